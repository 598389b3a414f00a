"""yamlfile.load_plain: documents built straight from the parser's events give exactly what
ruamel's safe loader gives, types included, and anything else goes to the safe loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from controller.kit import yamlfile

ROOT = Path(__file__).resolve().parents[1]

# Plain scalars that YAML 1.2 reads as something else than a string, or nearly so.
TRICKY = [
    "0", "-0", "+0", "7", "-12", "+5", "012", "0999", "0o17", "0x1F", "0b101", "1_000",
    "1.5", "7.50", "-0.0", "+2.25", "00.1", "1.", ".5", "1e3", "1.0e3", "-.inf", ".NaN",
    "2026-01-01", "2026-01-01T10:00:00Z", "12:30",
    "true", "True", "TRUE", "tRue", "false", "yes", "no", "on", "off", "y", "~", "null",
    "Null", "NULL", "nULL", "=", "<<", "!", "&", "*", "7d", "1M", "cams/front", "9" * 70,
    "a b", "-", "x:y", "",
]  # fmt: skip
INDICATORS = {"!", "&", "*", "-", "x:y"}  # plain, these do not parse (most places)
DECORATIONS = ["", "&a ", "!!str ", "!!int ", "! ", "*a", "!custom "]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types throughout (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            any(same(k, j) for j in b) and same(v, b[k]) for k, v in a.items()
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN


def _written(token: str, how: int) -> str:
    """A token as a plain scalar (0), quoted (1, 2), or with an anchor, tag or alias (3+)."""
    if how == 0:
        return token if token and token not in INDICATORS else f"'{token}'"
    if how in (1, 2):
        return f'"{token}"' if how == 1 else f"'{token}'"
    decoration = DECORATIONS[how % len(DECORATIONS)]
    return decoration if decoration == "*a" else decoration + (token or "x")


# Mostly plain and quoted; now and then one thing only the safe loader builds.
HOW = [0] * 40 + [1] * 5 + [2] * 5 + list(range(3, 3 + len(DECORATIONS)))
SCALAR = st.builds(_written, st.sampled_from(TRICKY), st.sampled_from(HOW))


def _flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    mapping = st.lists(st.tuples(SCALAR, children), max_size=4).map(
        lambda items: "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    )
    sequence = st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    return mapping | sequence


VALUES = st.recursive(SCALAR, _flow, max_leaves=8)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A stream of block mappings whose values are scalars or flow collections."""
    docs = []
    for _ in range(draw(st.integers(1, 3))):
        lines = [f"{draw(SCALAR)}: {draw(VALUES)}" for _ in range(draw(st.integers(0, 4)))]
        nested = draw(st.lists(VALUES, max_size=3))
        if nested:
            lines.append("spec:\n" + "".join(f"  - {v}\n" for v in nested))
        docs.append("\n".join(lines))
    prefix = draw(st.sampled_from(["", "", "", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "---\n"]))
    return prefix + "\n---\n".join(docs) + "\n"


def safe_load(text: str) -> list[Any] | str:
    """What the safe loader builds, after the bounds check; or the name of its error."""
    try:
        yamlfile.check_bounds(text)
        return list(YAML(typ="safe").load_all(text))
    except Exception as exc:  # a YAMLError, Refused, or ValueError (`!!int 1.5`)
        return type(exc).__name__


def told(name: str) -> str:
    """An error of the safe loader as load_plain tells it: a YAML error is Refused (placed)."""
    return (
        "Refused"
        if name.endswith("YAMLError")
        or name.startswith(("Scanner", "Parser", "Composer", "Constructor", "DuplicateKey"))
        else name
    )


@settings(max_examples=400, deadline=None)
@given(documents())
def test_load_plain_is_the_safe_loader(text: str) -> None:
    expected = safe_load(text)
    try:
        got: list[Any] | str = yamlfile.load_plain(text)
    except Exception as exc:
        got = "Refused" if isinstance(exc, yamlfile.Refused) else type(exc).__name__
    if isinstance(expected, str):
        assert got == told(expected), (text, got, expected)
    else:
        assert same(got, expected), (text, got, expected)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate keys: the safe loader's error
        "a: &x 1\nb: *x\n",
        "base: &b {x: 1}\nc:\n  <<: *b\n",
        "? [a]\n: 1\n",
        "{1: a, true: b}\n",
        "%YAML 1.1\n---\na: 012\n",
        "!!map {a: 1}\n",
    ],
)
def test_what_only_the_safe_loader_builds(text: str) -> None:
    assert yamlfile._load_simple(text) is None
    assert isinstance(safe_load(text), str) or same(yamlfile.load_plain(text), safe_load(text))


def test_the_examples_take_the_events_path() -> None:
    """The shipped documents and devices file need none of the safe loader's machinery."""
    files = [*(ROOT / "examples").rglob("*.yaml")]
    assert len(files) > 3
    for path in files:
        text = path.read_text()
        built = yamlfile._load_simple(text)
        assert built is not None, path
        assert same(built, safe_load(text)), path
