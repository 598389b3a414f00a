"""docs/orr/risk-assessment.md names only what exists: every test (by node id), every
metric camctl or its kube-state-metrics configuration exports, every alert of the rule
file, every condition reason camctl sets; and every failure mode names a test."""

from __future__ import annotations

import ast
import asyncio
import re
from functools import cache
from pathlib import Path

from test_monitoring_doc import families, kube_state_metrics, scrape
from test_prometheus import alerts

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "orr" / "risk-assessment.md"
NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(\[[\w.-]+\])?`")


@cache
def names_in(file: str) -> set[str]:
    tree = ast.parse((ROOT / file).read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


@cache
def source_strings() -> str:
    """Every string literal of camctl's code, one a line: where condition reasons are set."""
    found = []
    for module in (ROOT / "controller").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return "\n".join(found)


def sections() -> dict[str, str]:
    parts = re.split(r"^## (R\d+\. .+)$", DOC.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_test_named_exists() -> None:
    named = NODE.findall(DOC.read_text())
    assert len(named) >= 40
    for file, name, _ in named:
        assert (ROOT / file).is_file(), file
        assert name in names_in(file), f"{file}::{name} does not exist"


def test_every_parameter_named_is_one_the_test_takes() -> None:
    """`test[param]`: the parameter is one of the ids the test is run with."""
    from test_demo_scenarios import EXPECTED
    from test_runbooks import runnable

    ids = {"test_the_runbook_works_on_a_practice_box": set(runnable())}
    ids["test_each_scenario_plays_and_narrates_what_camctl_did"] = set(EXPECTED)
    for _, name, param in NODE.findall(DOC.read_text()):
        if param:
            assert param.strip("[]") in ids[name], f"{name}{param}"


def test_every_failure_mode_is_detected_mitigated_and_shown() -> None:
    found = sections()
    assert len(found) >= 20
    for title, text in found.items():
        for part in ("**Severity**", "**Mitigation**", "**Shown by**"):
            assert part in text, f"{title}: {part}"
        assert NODE.search(text), f"{title}: name a test"


def test_metrics_alerts_and_reasons_named_exist() -> None:
    text = DOC.read_text()
    metrics = set(re.findall(r"`(camctl_\w+)", text))
    exported = families(asyncio.run(scrape()))  # a running controller's /metrics
    known = set().union(*(f.samples for f in exported.values())) | set(kube_state_metrics())
    assert metrics and metrics <= known, metrics - known
    named = set(re.findall(r"`(Camctl\w+)`", text))
    assert named and named <= set(alerts()), named - set(alerts())
    reasons = set(re.findall(r"reasons? `([A-Z][a-z]+[A-Z]\w*)`", text))
    reasons |= set(re.findall(r"`([A-Z][a-z]+[A-Z]\w*)`[,)]? ?\(?`?[A-Z]?", text)) - named
    assert {"DeviceAbsent", "MediaMTXUnreachable", "PathConflict"} <= reasons
    for reason in reasons:
        assert re.search(rf"^{reason}$", source_strings(), re.M), f"{reason} is not set by camctl"
