"""The readiness criteria: docs/orr/criteria.yaml, read and checked before anything runs.

Each criterion names its area, says in words what it checks, and gives the kind of check
with its thresholds (docs/orr/decision-criteria.md explains each kind). A file that names
an unknown kind, area or parameter, or a parameter of the wrong type, is refused with the
criterion at fault: a typo must not turn into a check that silently checks nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

FORMAT = "camctl-orr-criteria/1"
ID = re.compile(r"^[a-z][a-z0-9-]*$")
SEVERITIES = ("LOW", "MEDIUM", "HIGH")

# kind -> parameter -> (type, required)
KINDS: dict[str, dict[str, tuple[type, bool]]] = {
    # Test cases of the suite's JUnit report: files (and -k keywords) select them.
    "tests": {
        "files": (list, True),
        "keywords": (list, False),
        "min_passed": (int, True),
        "min_examples": (int, False),  # hypothesis examples that passed (its statistics)
        "accepted_skips": (list, False),  # [{test, reason}]: nothing else may be skipped
    },
    # One benchmark's targets, from the verdict file benchmarks/targets.py writes.
    "benchmark": {"benchmark": (str, True), "min_targets": (int, True)},
    # tools/fault_campaign.py -o json: every class held.
    "fault_campaign": {"min_tried": (int, True), "classes": (list, False)},
    # bandit over the shipped code: no finding at or above `severity` unless accepted.
    "bandit": {"severity": (str, True), "accepted": (list, False)},
    # The CycloneDX SBOM of the installed environment.
    "sbom": {"min_components": (int, True)},
    # A step of the review itself (steps.py): every command it ran exited 0.
    "step": {"step": (str, True), "min_count": (int, False)},
    # The planted secret searched for in every file of the evidence.
    "secrets_scan": {"min_files": (int, True), "must_scan": (list, False)},
}


class CriteriaError(ValueError):
    """The criteria file is not one the review can judge by."""


@dataclass(frozen=True)
class Criterion:
    id: str
    area: str
    title: str  # what is checked, in the words of the table
    check: str  # one of KINDS
    params: dict[str, Any]
    pending: str | None = None  # evidence expected from work not done yet: never GO without it

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True)
class Criteria:
    areas: tuple[str, ...]
    items: tuple[Criterion, ...]

    def in_area(self, area: str) -> list[Criterion]:
        return [c for c in self.items if c.area == area]


def load(path: Path) -> Criteria:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CriteriaError(f"{path}: not a criteria file (format: {FORMAT})")
    areas = data.get("areas")
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        raise CriteriaError(f"{path}: areas must be a list of names")
    items = data.get("criteria")
    if not isinstance(items, list) or not items:
        raise CriteriaError(f"{path}: criteria must be a non-empty list")
    criteria = tuple(_criterion(item, tuple(areas), path) for item in items)
    ids = [c.id for c in criteria]
    if duplicated := sorted({i for i in ids if ids.count(i) > 1}):
        raise CriteriaError(f"{path}: criterion ids used twice: {', '.join(duplicated)}")
    return Criteria(tuple(areas), criteria)


def _criterion(item: object, areas: tuple[str, ...], path: Path) -> Criterion:
    if not isinstance(item, dict):
        raise CriteriaError(f"{path}: every criterion is a mapping, not {item!r}")
    where = f"{path}: criterion {item.get('id', '?')}"
    common = {"id", "area", "title", "check", "pending"}
    for name in ("id", "area", "title", "check"):
        if not isinstance(item.get(name), str) or not item[name]:
            raise CriteriaError(f"{where}: {name} must be given as text")
    if not ID.match(item["id"]):
        raise CriteriaError(f"{where}: an id is lowercase words joined by '-'")
    if item["area"] not in areas:
        raise CriteriaError(f"{where}: area {item['area']!r} is not one of {list(areas)}")
    kind = KINDS.get(item["check"])
    if kind is None:
        raise CriteriaError(f"{where}: check {item['check']!r} is not one of {sorted(KINDS)}")
    params = {k: v for k, v in item.items() if k not in common}
    for name, value in params.items():
        if name not in kind:
            raise CriteriaError(f"{where}: {item['check']} takes no {name!r} ({sorted(kind)})")
        expected = kind[name][0]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise CriteriaError(f"{where}: {name} must be of type {expected.__name__}")
    if missing := [n for n, (_, required) in kind.items() if required and n not in params]:
        raise CriteriaError(f"{where}: {item['check']} needs {', '.join(missing)}")
    if item["check"] == "bandit":
        _check_bandit(params, where)
    if item["check"] == "tests":
        _check_skips(params, where)
    pending = item.get("pending")
    if pending is not None and not isinstance(pending, str):
        raise CriteriaError(f"{where}: pending says why, as text")
    return Criterion(item["id"], item["area"], item["title"], item["check"], params, pending)


def _check_bandit(params: dict[str, Any], where: str) -> None:
    if params["severity"] not in SEVERITIES:
        raise CriteriaError(f"{where}: severity is one of {SEVERITIES}")
    for accepted in params.get("accepted", []):
        fields = {"test_id", "file", "line_contains", "reason"}
        if not isinstance(accepted, dict) or set(accepted) != fields:
            raise CriteriaError(f"{where}: an accepted finding has exactly {sorted(fields)}")
        if not all(isinstance(v, str) and v.strip() for v in accepted.values()):
            raise CriteriaError(f"{where}: an accepted finding says each of its fields")


def _check_skips(params: dict[str, Any], where: str) -> None:
    for skip in params.get("accepted_skips", []):
        if not isinstance(skip, dict) or set(skip) != {"test", "reason"}:
            raise CriteriaError(f"{where}: an accepted skip has exactly test and reason")
