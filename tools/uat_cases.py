"""Write docs/uat/test-cases.md from the acceptance tests of tests/uat/.

Each test module is one kind of user (its docstring says who, in their words); each test in
it is one of their stories: its docstring's first paragraph is the story, the rest its
Given / when / then. The page lists them, with the pytest node id that runs each, so that
what acceptance means is written once, in the tests, and cannot drift from them.

    python tools/uat_cases.py           # (re)write docs/uat/test-cases.md
    python tools/uat_cases.py --check   # exit 1 if the page differs from the tests
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "uat"
PAGE = ROOT / "docs" / "uat" / "test-cases.md"
WIDTH = 92
STEP = re.compile(r"^(Given|when|then|and when|and) ", re.I)


@dataclass(frozen=True)
class Case:
    node: str  # pytest node id
    title: str
    story: str
    steps: list[str]


@dataclass(frozen=True)
class User:
    file: str
    who: str
    about: str  # their situation, in their words
    harness: str  # how the tests stand in for their world
    cases: list[Case]


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _steps(text: str) -> list[str]:
    """Given / when / then lines, each with the lines that continue it."""
    steps: list[str] = []
    for line in text.strip().splitlines():
        if STEP.match(line.strip()) or not steps:
            steps.append(line.strip())
        else:
            steps[-1] += " " + line.strip()
    return steps


def _case(module: Path, test: ast.FunctionDef | ast.AsyncFunctionDef) -> Case:
    doc = ast.get_docstring(test)
    if not doc:
        raise ValueError(f"{module.name}::{test.name} has no docstring: say the user's story")
    story, _, rest = doc.partition("\n\n")
    if not rest.strip():
        raise ValueError(f"{module.name}::{test.name}: give the story's Given / when / then")
    title = test.name.removeprefix("test_").replace("_", " ").capitalize()
    node = f"{module.relative_to(ROOT)}::{test.name}"
    return Case(node, title, " ".join(story.split()), _steps(rest))


def users() -> list[User]:
    found = []
    for module in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(module.read_text())
        doc = ast.get_docstring(tree)
        if not doc:
            raise ValueError(f"{module.name} has no docstring: say which user it is")
        who, about, *harness = [*_paragraphs(doc), ""]
        tests = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
        ]
        cases = [_case(module, t) for t in tests]
        file = str(module.relative_to(ROOT))
        found.append(User(file, who.rstrip("."), about, " ".join(harness).strip(), cases))
    return found


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest) or [first]


def page() -> str:
    lines = [
        "# Acceptance test cases",
        "",
        "Written by `python tools/uat_cases.py` from the docstrings of the acceptance tests in",
        "`tests/uat/`: edit those, not this page (a test fails when the page is stale). How to",
        "run them and what to look at: [execution-guide.md](execution-guide.md).",
    ]
    for n, user in enumerate(users(), 1):
        lines += ["", f"## {n}. {user.who}", "", *_wrap(user.about)]
        harness = user.harness[:1].lower() + user.harness[1:]
        lines += ["", *_wrap(f"How the tests stand in for this: {harness} ({user.file})")]
        for m, case in enumerate(user.cases, 1):
            lines += ["", f"### UAT-{n}.{m}: {case.title}", "", *_wrap(case.story, "> ", "> ")]
            lines += [""]
            for step in case.steps:
                lines += _wrap(step, "- ", "  ")
            lines += ["", f"Run: `{case.node}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    wanted = page()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != wanted:
            print(
                f"{PAGE.relative_to(ROOT)} is stale: run python tools/uat_cases.py", file=sys.stderr
            )
            return 1
        return 0
    PAGE.write_text(wanted)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
