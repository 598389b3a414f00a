"""Judge the evidence by the criteria: one Result a criterion, GO only when it is shown.

Pure apart from reading the evidence: each kind of check (criteria.KINDS) says what it
measured, the threshold it held it to, and the command that reproduces it. Missing evidence
(a step that did not run, a test that was not found, a benchmark the run never reached) is
NO-GO with the reason; so is a pending criterion until its evidence exists.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .criteria import SEVERITIES, Criteria, Criterion
from .evidence import E2E, Evidence, MissingEvidence, TestCase

PYTEST = "umockdev-wrapper .venv/bin/python -m pytest"
MAX_LISTED = 8  # failing tests or findings named in a reason
MAX_TESTS_SHOWN = 60  # a criterion's tests listed one by one in its area's report


@dataclass(frozen=True)
class Result:
    criterion: Criterion
    go: bool
    measured: str
    threshold: str
    command: str
    reason: str = ""  # why NO-GO
    details: tuple[str, ...] = ()  # Markdown lines for the area's report
    note: str = ""


@dataclass(frozen=True)
class Measured:
    go: bool
    measured: str
    reason: str = ""
    details: tuple[str, ...] = ()
    note: str = ""


def judge(criteria: Criteria, evidence: Evidence, repo: Path) -> list[Result]:
    return [judge_one(c, evidence, repo) for c in criteria.items]


def judge_one(criterion: Criterion, evidence: Evidence, repo: Path) -> Result:
    check = CHECKS[criterion.check]
    threshold, command = check.threshold(criterion), check.command(criterion, evidence)
    try:
        m = check.measure(criterion, evidence, repo)
    except MissingEvidence as missing:
        m = Measured(False, "no evidence", f"missing evidence: {missing}")
    result = Result(criterion, m.go, m.measured, threshold, command, m.reason, m.details, m.note)
    if criterion.pending and not result.go:
        return replace(result, reason=f"pending ({criterion.pending}); {result.reason}")
    if criterion.pending:
        return replace(result, note="marked pending, but its evidence is in: take the mark off")
    return result


@dataclass(frozen=True)
class Check:
    threshold: Callable[[Criterion], str]
    command: Callable[[Criterion, Evidence], str]
    measure: Callable[[Criterion, Evidence, Path], Measured]


# --- tests ------------------------------------------------------------------------------


def selected(criterion: Criterion, cases: list[TestCase]) -> list[TestCase]:
    """The cases of the criterion's files whose names hold one of its keywords (as -k)."""
    files = [str(f) for f in criterion.get("files")]
    keywords = [str(k).lower() for k in criterion.get("keywords", [])]

    def in_files(case: TestCase) -> bool:
        return any(case.file == f or case.file.startswith(f.rstrip("/") + "/") for f in files)

    def named(case: TestCase) -> bool:
        words = f"{case.classname} {case.name}".lower()
        return not keywords or any(k in words for k in keywords)

    return [c for c in cases if in_files(c) and named(c)]


def _tests_threshold(c: Criterion) -> str:
    text = f">= {c.get('min_passed')} passed, none failed"
    skips = c.get("accepted_skips", [])
    text += f", no skip but {len(skips)} accepted" if skips else ", none skipped"
    if c.get("min_examples"):
        text += f"; >= {c.get('min_examples')} hypothesis examples passed"
    return text


def _tests_command(c: Criterion, evidence: Evidence) -> str:
    command = f"{PYTEST} {' '.join(c.get('files'))}"
    if keywords := c.get("keywords"):
        command += f' -k "{" or ".join(keywords)}"'
    return command


def _tests_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    cases = selected(c, evidence.tests)
    if not cases:
        raise MissingEvidence(f"no test of {', '.join(c.get('files'))} ran")
    accepted = [str(s["test"]) for s in c.get("accepted_skips", [])]
    count = {o: [t for t in cases if t.outcome == o] for o in ("passed", "failed", "error")}
    skipped = [t for t in cases if t.outcome == "skipped"]
    unaccepted = [t for t in skipped if not any(t.nodeid.startswith(a) for a in accepted)]
    passed = len(count["passed"])
    measured = f"{passed} passed"
    for what, found in (("failed", count["failed"]), ("errors", count["error"])):
        measured += f", {len(found)} {what}" if found else ""
    if skipped:
        measured += f", {len(skipped)} skipped" + ("" if unaccepted else " (accepted)")
    if not (count["failed"] or count["error"] or skipped):
        measured += ", none failed or skipped"
    problems = [
        f"{t.nodeid} {t.outcome}: {t.message}"[:300]
        for t in count["failed"] + count["error"] + unaccepted
    ]
    if passed < c.get("min_passed"):
        problems.append(f"only {passed} passed, fewer than {c.get('min_passed')}")
    if minimum := c.get("min_examples"):
        names = {t.nodeid for t in cases}
        examples = sum(n for test, n in evidence.examples.items() if test in names)
        measured += f"; {examples} hypothesis examples passed"
        if examples < minimum:
            problems.append(f"only {examples} hypothesis examples passed, fewer than {minimum}")
    shown = cases if len(cases) <= MAX_TESTS_SHOWN else [t for t in cases if t.outcome != "passed"]
    details = tuple(
        f"- {t.outcome}: `{t.nodeid}`"
        + (f" ({t.message})" if t.message else "")
        + f" {t.seconds:.1f} s"
        for t in shown
    )
    return Measured(not problems, measured, _listed(problems), details)


# --- benchmarks -------------------------------------------------------------------------


def _bench_threshold(c: Criterion) -> str:
    if not c.get("min_targets"):
        return "runs to the end (figures only: it has no target)"
    return f"every target met ({c.get('min_targets')} or more targets)"


def _bench_command(c: Criterion, evidence: Evidence) -> str:
    return f"umockdev-wrapper .venv/bin/python -m benchmarks.{c.get('benchmark')}"


def _bench_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    data = evidence.bench()
    name = c.get("benchmark")
    bench = next((b for b in data.get("benchmarks", []) if b.get("name") == name), None)
    if bench is None:
        stopped = "" if data.get("complete") else " (the run stopped before it)"
        raise MissingEvidence(f"{name} did not run{stopped}")
    targets = bench.get("targets", [])
    missed = [t for t in targets if not t.get("met")]
    load = f"load {bench.get('load_before', 0):.1f} -> {bench.get('load_after', 0):.1f}"
    if targets:
        measured = f"{len(targets) - len(missed)} of {len(targets)} targets met"
    else:
        measured = "figures only, no target"
    measured += f" ({bench.get('seconds', 0):.0f} s, {load} on {data.get('cpus')} CPUs)"
    lines: dict[str, list[str]] = {}  # one printed line may judge several targets
    for t in missed:
        lines.setdefault(str(t.get("line")), []).append(str(t.get("target")))
    problems = [f"{', '.join(names)}: {line}" for line, names in lines.items()]
    if len(targets) < c.get("min_targets"):
        problems.append(f"{len(targets)} targets judged, fewer than {c.get('min_targets')}")
    details = [
        f"- {'met' if t.get('met') else '**NOT met**'}: {t.get('target')}: `{t.get('line')}`"
        for t in targets
    ]
    if not targets:
        details += [f"- `{line.strip()}`" for line in bench.get("lines", []) if line.strip()]
    calibration = [line for b in data.get("benchmarks", []) for line in b.get("calibration", [])]
    details.append(
        f"- calibration, same run: {load} on {data.get('cpus')} CPUs while it ran"
        + "".join(f"; `{line}`" for line in calibration)
    )
    return Measured(not problems, measured, _listed(problems), tuple(details))


# --- the fault campaign -----------------------------------------------------------------


def _campaign_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    data = evidence.campaign()
    wanted = c.get("classes") or sorted(data)
    problems = [f"class {name!r} did not run" for name in wanted if name not in data]
    classes = {name: data[name] for name in wanted if name in data}
    tried = sum(int(v.get("tried", 0)) for v in classes.values())
    held = sum(int(v.get("held", 0)) for v in classes.values())
    for name, v in classes.items():
        problems += [f"{name}: {failure}" for failure in v.get("failed", [])]
    if tried < c.get("min_tried"):
        problems.append(f"only {tried} faults tried, fewer than {c.get('min_tried')}")
    if held != tried and not problems:
        problems.append(f"{tried - held} faults did not hold")
    details = ["| class | tried | held | failed |", "| --- | --- | --- | --- |"]
    for name, v in classes.items():
        failed = "; ".join(v.get("failed", [])) or "-"
        details.append(f"| {name} | {v.get('tried')} | {v.get('held')} | {failed} |")
    measured = f"{tried} faults tried in {len(classes)} classes, {held} held"
    return Measured(not problems, measured, _listed(problems), tuple(details))


# --- bandit -----------------------------------------------------------------------------


def _bandit_threshold(c: Criterion) -> str:
    accepted = len(c.get("accepted", []))
    return f"no finding of severity {c.get('severity')} or above, but {accepted} accepted"


def finding_line(finding: dict[str, Any]) -> str:
    """The source line of a bandit finding, from the code excerpt bandit reports."""
    number = str(finding.get("line_number"))
    for line in str(finding.get("code", "")).splitlines():
        head, _, text = line.partition(" ")
        if head == number:
            return text.strip()
    return ""


def _bandit_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    data = evidence.bandit()
    rank = SEVERITIES.index(c.get("severity"))
    accepted: list[dict[str, str]] = list(c.get("accepted", []))
    used: set[int] = set()
    open_: list[str] = []
    details = ["| where | finding | line | decision |", "| --- | --- | --- | --- |"]
    findings = [f for f in data.get("results", []) if _severity(f) >= rank]
    for f in findings:
        line, file = finding_line(f), str(f.get("filename", ""))
        match = next(
            (
                i
                for i, a in enumerate(accepted)
                if a["test_id"] == f.get("test_id")
                and a["file"] == file
                and a["line_contains"] in line
            ),
            None,
        )
        where = f"{file}:{f.get('line_number')} {f.get('test_id')} ({f.get('issue_severity')})"
        if match is None:
            open_.append(f"{where}: {f.get('issue_text')}")
        else:
            used.add(match)
        verdict = f"accepted: {accepted[match]['reason']}" if match is not None else "**open**"
        details.append(f"| `{where}` | {f.get('issue_text')} | `{line}` | {verdict} |")
    problems = open_ + [
        f"bandit could not read {e.get('filename')}: {e.get('reason')}"
        for e in data.get("errors", [])
    ]
    lines = data.get("metrics", {}).get("_totals", {}).get("loc", 0)
    measured = (
        f"{len(findings)} findings at or above {c.get('severity')}: "
        f"{len(findings) - len(open_)} accepted, {len(open_)} open; {lines:,} lines scanned"
    )
    stale = [a["file"] + " " + a["test_id"] for i, a in enumerate(accepted) if i not in used]
    note = f"accepted but no longer found: {', '.join(stale)}" if stale else ""
    return Measured(not problems, measured, _listed(problems), tuple(details), note)


def _severity(finding: dict[str, Any]) -> int:
    severity = str(finding.get("issue_severity", "HIGH")).upper()
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


# --- the SBOM ---------------------------------------------------------------------------


def normalized(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies(repo: Path) -> list[str]:
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        normalized(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0])
        for d in project.get("dependencies", [])
    ]


def _sbom_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    data = evidence.sbom()
    step = evidence.step("sbom")
    components = {normalized(str(x.get("name", ""))): x for x in data.get("components", [])}
    needed = runtime_dependencies(repo)
    missing = [d for d in needed if d not in components]
    problems = [f"runtime dependency {d} is not in the SBOM" for d in missing]
    if data.get("bomFormat") != "CycloneDX":
        problems.append("not a CycloneDX document")
    if not step.ok:
        problems.append("cyclonedx-py failed (or found the SBOM invalid): see " + step.log)
    if len(components) < c.get("min_components"):
        problems.append(f"only {len(components)} components, fewer than {c.get('min_components')}")
    measured = (
        f"{len(components)} components, CycloneDX {data.get('specVersion')}; "
        f"{len(needed) - len(missing)} of {len(needed)} runtime dependencies listed"
    )
    details = ["| runtime dependency | version in the SBOM |", "| --- | --- |"]
    for d in needed:
        version = components[d].get("version", "?") if d in components else "**missing**"
        details.append(f"| {d} | {version} |")
    return Measured(not problems, measured, _listed(problems), tuple(details))


# --- steps of the review itself ---------------------------------------------------------


def _step_threshold(c: Criterion) -> str:
    minimum = c.get("min_count")
    return "every command exits 0" + (f", >= {minimum} counted" if minimum else "")


def _step_command(c: Criterion, evidence: Evidence) -> str:
    """The commands the step ran (what it would run, if it did not)."""
    try:
        return "; ".join(x.display for x in evidence.step(c.get("step")).commands)
    except MissingEvidence:
        return f"python -m tools.orr (its step {c.get('step')})"


def _step_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    step = evidence.step(c.get("step"))
    failed = [
        f"`{x.display}` " + (f"exited {x.exit}" if x.exit is not None else x.error)
        for x in step.commands
        if x.exit != 0
    ]
    problems = failed if step.commands else [f"the step ran no command: {step.figure}"]
    minimum = c.get("min_count")
    if step.commands and minimum and (step.count or 0) < minimum:
        problems.append(f"counted {step.count or 0}, fewer than {minimum}")
    details = tuple(f"- `{x.display}`: exit {x.exit} in {x.seconds:.1f} s" for x in step.commands)
    measured = step.figure or ("every command exited 0" if step.ok else "failed")
    log = f" (log: evidence/{step.log})" if step.commands else ""
    return Measured(not problems, measured, _listed(problems, log), details)


# --- the secrets scan -------------------------------------------------------------------


def _scan_measure(c: Criterion, evidence: Evidence, repo: Path) -> Measured:
    data = evidence.scan()
    scanned = [str(f) for f in data.get("scanned", [])]
    hits = data.get("hits", [])
    problems = [f"the planted password shows ({h.get('form')}) in {h.get('file')}" for h in hits]
    if len(scanned) < c.get("min_files"):
        problems.append(f"only {len(scanned)} files scanned, fewer than {c.get('min_files')}")
    for wanted in c.get("must_scan", []):
        if not any(f == wanted or f.startswith(wanted.rstrip("/") + "/") for f in scanned):
            problems.append(f"{wanted} was not among the files scanned")
    megabytes = int(data.get("bytes", 0)) / 1e6
    measured = f"{len(hits)} hits in {len(scanned)} files ({megabytes:.1f} MB), raw and encoded"
    details = tuple(f"- `{f}`" for f in scanned if f.startswith(E2E + "/"))
    return Measured(not problems, measured, _listed(problems), details)


def _listed(problems: list[str], suffix: str = "") -> str:
    if not problems:
        return ""
    more = len(problems) - MAX_LISTED
    text = "; ".join(problems[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")
    return text + suffix


def _fixed(text: str) -> Callable[[Criterion, Evidence], str]:
    return lambda c, e: text


CHECKS: dict[str, Check] = {
    "tests": Check(_tests_threshold, _tests_command, _tests_measure),
    "benchmark": Check(_bench_threshold, _bench_command, _bench_measure),
    "fault_campaign": Check(
        lambda c: f"every fault held, >= {c.get('min_tried')} tried",
        _fixed(".venv/bin/python tools/fault_campaign.py -o json"),
        _campaign_measure,
    ),
    "bandit": Check(
        _bandit_threshold, _fixed(".venv/bin/bandit -r controller -f json"), _bandit_measure
    ),
    "sbom": Check(
        lambda c: (
            f"valid CycloneDX, >= {c.get('min_components')} components, "
            "every runtime dependency of pyproject.toml listed"
        ),
        _fixed(
            ".venv/bin/cyclonedx-py environment --pyproject pyproject.toml --of JSON "
            "--validate .venv/bin/python"
        ),
        _sbom_measure,
    ),
    "step": Check(_step_threshold, _step_command, _step_measure),
    "secrets_scan": Check(
        lambda c: (
            f"0 hits, >= {c.get('min_files')} files scanned"
            + (f", including {', '.join(c.get('must_scan'))}" if c.get("must_scan") else "")
        ),
        _fixed("python -m tools.orr: every file of build/orr/evidence/ searched"),
        _scan_measure,
    ),
}
