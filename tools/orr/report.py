"""The evidence package an operator reads: build/orr/index.md (and index.json), one report
per area, the UAT report and a one-page summary, all written from the judged results.

Nothing here measures or decides: the figures are the judge's, taken from the evidence.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .evidence import Evidence, MissingEvidence, TestCase
from .judge import Result

DECISION = "docs/orr/decision-criteria.md"
CRITERIA = "docs/orr/criteria.yaml"
INTRO = {
    "system": "One running camctl (the MediaMTX emulator, simulated cameras, the view with "
    "tokens) used through every client camctl ships, and the whole test suite, run once.",
    "performance": "The benchmarks' own targets, each judged in the run printed beside it, with "
    "the calibration of the same run: the machine's load around each benchmark and a bare "
    "thread's cost (bench_idle). The machine is shared: read medians and ratios.",
    "security": "Who may do what on the view, bad input thrown at it, a password planted and "
    "searched for in every output, static analysis of the shipped code, the SBOM of the "
    "installed environment, and the Kubernetes permissions.",
    "reliability": "Faults camctl must survive, each a test against the real controller, and "
    "the fault campaign of issue 10.",
    "deployment": "The manifests render, the systemd units verify, the install, upgrade, "
    "rollback and recovery rehearsals pass, and the alert rules load and pass their tests.",
    "uat": "The acceptance scenarios, one per user story, in the words of the people who use "
    "camctl.",
}


def verdict(results: Sequence[Result]) -> str:
    return "GO" if results and all(r.go for r in results) else "NO-GO"


def write(
    out: Path, results: list[Result], areas: Sequence[str], evidence: Evidence, repo: Path
) -> list[Path]:
    """Write the package into `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    meta = _meta(evidence)
    written = {
        "index.md": index(results, areas, meta),
        "index.json": json.dumps(as_json(results, meta), indent=1) + "\n",
        "summary.md": summary(results, areas, meta),
    }
    for area in areas:
        extra = uat_stories(evidence, repo) if area == "uat" else []
        written[f"{area}.md"] = area_report(
            area, [r for r in results if r.criterion.area == area], meta, extra
        )
    for name, text in written.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in written]


def _meta(evidence: Evidence) -> dict[str, Any]:
    try:
        return evidence.meta()
    except MissingEvidence:
        return {}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def _when(meta: dict[str, Any]) -> str:
    commit = (meta.get("commit") or "unknown")[:12]
    if meta.get("uncommitted"):
        commit += " with uncommitted changes"
    minutes, seconds = divmod(int(meta.get("seconds", 0)), 60)
    return (
        f"commit {commit}, run {meta.get('started', 'at an unknown time')} on "
        f"{meta.get('cpus', '?')} CPUs, the steps took {minutes} min {seconds} s"
    )


def index(results: list[Result], areas: Sequence[str], meta: dict[str, Any]) -> str:
    go = sum(r.go for r in results)
    lines = [
        f"# camctl operational readiness review: {verdict(results)}",
        "",
        f"{go} of {len(results)} criteria GO ({_when(meta)}). The review is GO only when every "
        f"criterion is; missing evidence is NO-GO. How to read this table: [{DECISION}]"
        f"(../../{DECISION}); the criteria and thresholds: [{CRITERIA}](../../{CRITERIA}). "
        "One page: [summary.md](summary.md).",
        "",
        "| criterion | what was checked | measured | threshold | command | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for area in areas:
        lines.append(f"| **{area}** ([report]({area}.md)) | | | | | |")
        for r in (r for r in results if r.criterion.area == area):
            result = "GO" if r.go else "**NO-GO**"
            lines.append(
                f"| {r.criterion.id} | {_cell(r.criterion.title)} | {_cell(r.measured)} "
                f"| {_cell(r.threshold)} | {_code(r.command)} | {result} |"
            )
    lines += ["", *_no_go(results), *_notes(results), "", "## Evidence", ""]
    lines += [
        "Everything the steps wrote is in [evidence/](evidence/); "
        "[evidence/steps.json](evidence/steps.json) has each command, its exit code and time:",
        "",
        "| step | measured | time |",
        "| --- | --- | --- |",
    ]
    for step in meta.get("steps", []):
        name = f"[{step['name']}](evidence/{step['log']})" if step["commands"] else step["name"]
        figure = _cell(step.get("figure", ""))
        lines.append(f"| {name} | {figure} | {step.get('seconds', 0):.0f} s |")
    return "\n".join(lines) + "\n"


def _no_go(results: list[Result]) -> list[str]:
    failing = [r for r in results if not r.go]
    if not failing:
        return ["Every criterion is GO."]
    lines = ["## NO-GO, and why", ""]
    return lines + [f"- **{r.criterion.id}** ({r.criterion.area}): {r.reason}" for r in failing]


def _notes(results: list[Result]) -> list[str]:
    noted = [r for r in results if r.note]
    if not noted:
        return []
    return ["", "## Notes for the reviewers", ""] + [
        f"- **{r.criterion.id}**: {r.note}" for r in noted
    ]


def as_json(results: list[Result], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": verdict(results),
        "go": sum(r.go for r in results),
        "criteria_count": len(results),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": meta,
        "criteria": [
            {
                "id": r.criterion.id,
                "area": r.criterion.area,
                "title": r.criterion.title,
                "check": r.criterion.check,
                "measured": r.measured,
                "threshold": r.threshold,
                "command": r.command,
                "result": "GO" if r.go else "NO-GO",
                "reason": r.reason,
                "note": r.note,
                "pending": r.criterion.pending,
                "details": list(r.details),
            }
            for r in results
        ],
    }


def area_report(area: str, results: list[Result], meta: dict[str, Any], extra: list[str]) -> str:
    title = "UAT" if area == "uat" else area.capitalize()
    lines = [
        f"# {title}: {verdict(results)}",
        "",
        INTRO.get(area, ""),
        "",
        f"From {_when(meta)}. Back to the [index](index.md).",
        "",
    ]
    for r in results:
        lines += [
            f"## {r.criterion.id}: {'GO' if r.go else 'NO-GO'}",
            "",
            r.criterion.title,
            "",
            f"- measured: {r.measured}",
            f"- threshold: {r.threshold}",
            f"- command: {_code(r.command)}",
        ]
        if r.reason:
            lines.append(f"- why NO-GO: {r.reason}")
        if r.criterion.pending:
            lines.append(f"- pending: {r.criterion.pending}")
        if r.note:
            lines.append(f"- note: {r.note}")
        if r.details:
            lines += ["", *r.details]
        lines.append("")
    return "\n".join(lines + extra) + "\n"


def uat_stories(evidence: Evidence, repo: Path) -> list[str]:
    """The acceptance scenarios of tests/uat/: each test's docstring and how it went."""
    folder = repo / "tests" / "uat"
    files = sorted(folder.rglob("test_*.py")) if folder.is_dir() else []
    if not files:
        return [
            "## The scenarios",
            "",
            "No UAT suite yet: tests/uat/ holds no test. The UAT criteria stay NO-GO "
            "until it does.",
        ]
    try:
        cases = evidence.tests
    except MissingEvidence:
        cases = []
    lines = ["## The scenarios", "", "| story | test | result |", "| --- | --- | --- |"]
    for file in files:
        relative = str(file.relative_to(repo))
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                story = (ast.get_docstring(node) or "(no story written)").split("\n\n")[0]
                lines.append(
                    f"| {_cell(story)} | `{relative}::{node.name}` | "
                    f"{_outcome(cases, relative, node.name)} |"
                )
    return lines


def _outcome(cases: list[TestCase], file: str, name: str) -> str:
    found = [c for c in cases if c.file == file and c.name.split("[")[0] == name]
    if not found:
        return "not run"
    bad = [c for c in found if c.outcome != "passed"]
    return "passed" if not bad else f"**{bad[0].outcome}**"


def summary(results: list[Result], areas: Sequence[str], meta: dict[str, Any]) -> str:
    go = sum(r.go for r in results)
    lines = [
        "# camctl readiness: the review on one page",
        "",
        f"**{verdict(results)}**: {go} of {len(results)} criteria GO; {_when(meta)}.",
        "",
        "| area | GO | NO-GO |",
        "| --- | --- | --- |",
    ]
    for area in areas:
        mine = [r for r in results if r.criterion.area == area]
        lines.append(
            f"| [{area}]({area}.md) | {sum(r.go for r in mine)} | {sum(not r.go for r in mine)} |"
        )
    lines += ["", "## What was found", ""]
    for area in areas:
        found = "; ".join(
            f"{r.criterion.id} {r.measured}" + ("" if r.go else " (NO-GO)")
            for r in results
            if r.criterion.area == area
        )
        lines.append(f"- **{area}**: {found}")
    lines += [
        "",
        *_no_go(results),
        "",
        "Repeat it with `make orr`; each line of the [index](index.md) names the command "
        "that repeats that one check.",
    ]
    return "\n".join(lines) + "\n"
