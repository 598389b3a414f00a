"""docs/orr/ stays true: the readiness checklist names only criteria and tests that exist, and
every criterion of criteria.yaml; the decision criteria describe every kind of check, step
and area the review has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tools.orr import criteria as criteria_file
from tools.orr import steps

ROOT = Path(__file__).resolve().parents[1]
ORR = ROOT / "docs" / "orr"
CHECKLIST = ORR / "readiness-checklist.md"
LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
CRITERION = re.compile(r"`([a-z]+(?:-[a-z0-9]+)+)`")
TEST = re.compile(r"^(tests/[\w/]+\.py)(?:::(\w+))?$")


def criteria() -> criteria_file.Criteria:
    return criteria_file.load(ORR / "criteria.yaml")


def functions(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def rows(text: str) -> list[list[str]]:
    """The checklist's items: the cells of each table row after the header rows."""
    found = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            found.append(cells)
    return found


def test_every_criterion_the_checklist_names_exists_and_every_one_is_named() -> None:
    ids = {c.id for c in criteria().items}
    named: set[str] = set()
    for number, _, proof, _ in rows(CHECKLIST.read_text()):
        found = set(CRITERION.findall(proof))
        assert found, f"item {number} names no criterion"
        assert found <= ids, f"item {number}: no such criterion {sorted(found - ids)}"
        named |= found
    assert named == ids, f"criteria missing from the checklist: {sorted(ids - named)}"


def test_every_test_and_link_of_the_checklist_exists() -> None:
    items = rows(CHECKLIST.read_text())
    assert len(items) >= 20 and [int(r[0]) for r in items] == list(range(1, len(items) + 1))
    for text, target in LINK.findall(CHECKLIST.read_text()):
        assert (CHECKLIST.parent / target).resolve().exists(), target
        if test := TEST.match(text):
            file, name = test.groups()
            assert (CHECKLIST.parent / target).resolve() == ROOT / file, (text, target)
            assert name is None or name in functions(ROOT / file), f"{text} does not exist"


def test_the_decision_criteria_describe_every_check_step_and_area() -> None:
    text = (ORR / "decision-criteria.md").read_text()
    for kind in criteria_file.KINDS:
        assert f"| `{kind}` |" in text, f"decision-criteria.md does not explain {kind}"
    for step in steps.STEPS:
        assert f"| {step} |" in text, f"decision-criteria.md does not list the step {step}"
    for area in criteria().areas:
        assert f"`{area}.md`" in text, f"decision-criteria.md does not name {area}.md"
