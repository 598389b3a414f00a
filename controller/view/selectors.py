"""Kubernetes-style label selectors: `zone=garage,site!=lab,env in (a,b),!legacy`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Op = Literal["=", "!=", "in", "notin", "exists", "!exists"]
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EXISTS = re.compile(rf"^(?P<neg>!?)\s*(?P<key>{_KEY})$")
_EQUALS = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
MAX_LENGTH = 1024


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.op == "exists":
            return value is not None
        if self.op == "!exists":
            return value is None
        if self.op in ("=", "in"):
            return value in self.values
        return value not in self.values  # != and notin also match a missing label


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse(text: str) -> Selector:
    """Parse a selector; every requirement must hold (comma means AND)."""
    if len(text) > MAX_LENGTH:
        raise SelectorError(f"longer than {MAX_LENGTH} characters")
    parts = [p.strip() for p in _split(text)]
    return Selector(tuple(_requirement(p) for p in parts if p))


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _requirement(text: str) -> Requirement:
    if m := _SET.match(text):
        values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
        if not values:
            raise SelectorError(f"{text!r}: give at least one value")
        return Requirement(m["key"], "in" if m["op"] == "in" else "notin", values)
    if m := _EQUALS.match(text):
        op: Op = "!=" if m["op"] == "!=" else "="
        return Requirement(m["key"], op, frozenset({m["value"]}))
    if m := _EXISTS.match(text):
        return Requirement(m["key"], "!exists" if m["neg"] else "exists")
    raise SelectorError(
        f"{text!r} is not a label requirement (key=value, key!=value, "
        "key in (a,b), key notin (a,b), key, !key)"
    )
