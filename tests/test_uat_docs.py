"""docs/uat/: the test cases page is written from tests/uat/ and is current; the execution
guide names tests that exist; every story says Given, when and then."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UAT = ROOT / "tests" / "uat"
GUIDE = ROOT / "docs" / "uat" / "execution-guide.md"
CASES = ROOT / "docs" / "uat" / "test-cases.md"


def stories() -> dict[str, list[str]]:
    """Every acceptance test (`file::name`) with its docstring's lines."""
    found = {}
    for module in sorted(UAT.glob("test_*.py")):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                doc = ast.get_docstring(node) or ""
                found[f"{module.relative_to(ROOT)}::{node.name}"] = doc.splitlines()
    return found


def test_the_cases_page_is_written_from_the_tests() -> None:
    done = subprocess.run(
        [sys.executable, "tools/uat_cases.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for node in stories():
        assert f"Run: `{node}`" in CASES.read_text(), node


def test_three_kinds_of_user_and_every_story_in_their_words() -> None:
    found = stories()
    files = {node.split("::")[0] for node in found}
    assert len(files) == 3, files
    assert len(found) >= 12
    for node, lines in found.items():
        words = [line.strip().split(" ")[0] for line in lines]
        assert words[0] in ("I", "When", "Before", "My", "If", "A"), f"{node}: the user speaks"
        for step in ("Given", "when", "then"):
            assert step in words, f"{node}: no {step!r} step"


def test_the_guide_names_tests_that_exist() -> None:
    guide = GUIDE.read_text()
    found = stories()
    named = set(re.findall(r"tests/uat/test_\w+\.py(?:::\w+)?", guide))
    assert named, "the guide shows how to run them"
    for name in named:
        if "::" in name:
            assert name in found, name
        else:
            assert (ROOT / name).is_file(), name
    assert {node.split("::")[0] for node in found} <= named, "every kind of user in the guide"
