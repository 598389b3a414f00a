"""The evidence of one review, as the steps left it in build/orr/evidence/, read back.

Every reader returns what a tool wrote (pytest's JUnit report and its hypothesis
statistics, the benchmarks' verdict file, the fault campaign's JSON, bandit's JSON, the
CycloneDX SBOM, the steps' exit codes, the secrets scan) or raises MissingEvidence saying
what is missing: the judge turns that into NO-GO, never into GO.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error", "skipped"]

STEPS = "steps.json"
JUNIT = "pytest.xml"
PYTEST_LOG = "tests.log"
BENCH = "bench.json"
CAMPAIGN = "fault-campaign.json"
BANDIT = "bandit.json"
SBOM = "sbom.cdx.json"
SCAN = "secrets-scan.json"
E2E = "e2e"

_STATISTICS_TEST = re.compile(r"^(\S+\.py::\S+):$")
_STATISTICS_COUNT = re.compile(r"^\s*- (\d+) passing(?: examples)?, (\d+) failing")


_OUTCOMES: tuple[tuple[str, Outcome], ...] = (
    ("failure", "failed"),
    ("error", "error"),
    ("skipped", "skipped"),
)


class MissingEvidence(Exception):
    """What a criterion needs was not produced (a step did not run, or wrote nothing)."""


@dataclass(frozen=True)
class TestCase:
    file: str  # tests/test_x.py
    classname: str  # tests.test_x, or tests.test_x.TestGroup
    name: str  # test_name[param]
    outcome: Outcome
    message: str = ""
    seconds: float = 0.0

    @property
    def nodeid(self) -> str:
        module = self.file.removesuffix(".py").replace("/", ".")
        group = self.classname.removeprefix(module).strip(".")
        return "::".join(p for p in (self.file, group.replace(".", "::"), self.name) if p)


@dataclass(frozen=True)
class Command:
    display: str  # as a person would type it, from the repository's root
    exit: int | None  # None: it could not be started, or ran out of time
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class Step:
    name: str
    commands: tuple[Command, ...]
    log: str
    figure: str = ""  # what the step measured, in words (e.g. "3 directories, 41 objects")
    count: int | None = None  # the number behind the figure, for thresholds

    @property
    def ok(self) -> bool:
        return bool(self.commands) and all(c.exit == 0 for c in self.commands)


class Evidence:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    def _json(self, name: str, what: str) -> Any:
        path = self.path(name)
        if not path.is_file():
            raise MissingEvidence(f"no {what} ({name} was not written)")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise MissingEvidence(f"{name} is not JSON: {error}") from None

    # --- the steps ------------------------------------------------------------------------
    @cached_property
    def _steps(self) -> dict[str, Step]:
        data = self._json(STEPS, "record of the steps")
        steps = {}
        for item in data.get("steps", []):
            commands = tuple(Command(**c) for c in item.get("commands", []))
            steps[item["name"]] = Step(
                item["name"],
                commands,
                item.get("log", ""),
                item.get("figure", ""),
                item.get("count"),
            )
        return steps

    def step(self, name: str) -> Step:
        found = self._steps.get(name)
        if found is None:
            raise MissingEvidence(f"the step {name!r} did not run")
        return found

    def meta(self) -> dict[str, Any]:
        """The run: commit, machine, times, and each step as recorded."""
        data: dict[str, Any] = self._json(STEPS, "record of the steps")
        return data

    # --- tests ----------------------------------------------------------------------------
    @cached_property
    def tests(self) -> list[TestCase]:
        path = self.path(JUNIT)
        if not path.is_file():
            raise MissingEvidence(f"no test report ({JUNIT}: the test suite did not run)")
        try:
            tree = ElementTree.parse(path)  # the report our own pytest run wrote
        except ElementTree.ParseError as error:
            raise MissingEvidence(f"{JUNIT} is not a JUnit report: {error}") from None
        return [_case(element) for element in tree.getroot().iter("testcase")]

    @cached_property
    def examples(self) -> dict[str, int]:
        """Hypothesis' passing examples per test (pytest --hypothesis-show-statistics)."""
        path = self.path(PYTEST_LOG)
        if not path.is_file():
            raise MissingEvidence(f"no test log ({PYTEST_LOG})")
        found: dict[str, int] = {}
        test = None
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if heading := _STATISTICS_TEST.match(line):
                test = heading.group(1)
            elif test and (count := _STATISTICS_COUNT.match(line)):
                found[test] = found.get(test, 0) + int(count.group(1))
        return found

    # --- what other tools wrote -----------------------------------------------------------
    def bench(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json(BENCH, "benchmark verdicts (the benchmarks did not run)")
        return data

    def campaign(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json(CAMPAIGN, "fault campaign results")
        return data

    def bandit(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json(BANDIT, "bandit report")
        return data

    def sbom(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json(SBOM, "SBOM")
        return data

    def scan(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json(SCAN, "secrets scan")
        return data


def _case(element: ElementTree.Element) -> TestCase:
    classname, name = element.get("classname", ""), element.get("name", "")
    file = element.get("file") or (name.replace(".", "/") + ".py" if not classname else "")
    if not file:  # xunit2 names no file: the module is the classname's leading part
        file = classname.replace(".", "/") + ".py"
    outcome: Outcome = "passed"
    message = ""
    for tag, result in _OUTCOMES:
        found = element.find(tag)
        if found is not None:
            outcome, message = result, found.get("message", "")
            break
    return TestCase(file, classname, name, outcome, message, float(element.get("time", 0) or 0))
