"""The readiness review's judgement (tools/orr): a criterion that fails makes the review NO-GO,
missing evidence is NO-GO and never GO, and the package says which and why.

Each test writes evidence as the tools write it (a JUnit report, a benchmark verdict file
from benchmarks/targets.py itself, the fault campaign's JSON, bandit's JSON, an SBOM, the
steps' record, a secrets scan) into a temporary folder, and judges it by a small criteria
file. The criteria file of the project is checked against the tests it names.
"""

from __future__ import annotations

import ast
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from benchmarks.targets import run, verdict
from tools.orr import criteria as criteria_file
from tools.orr import report, steps
from tools.orr.__main__ import main
from tools.orr.evidence import PYTEST_LOG, Evidence
from tools.orr.judge import Result, judge

ROOT = Path(__file__).resolve().parents[1]
LOOP = "tests/test_loop.py"
HEADER = "format: camctl-orr-criteria/1\nareas: [system, performance, security, reliability]\n"


def criteria(tmp_path: Path, body: str) -> criteria_file.Criteria:
    path = tmp_path / "criteria.yaml"
    path.write_text(HEADER + "criteria:\n" + body)
    return criteria_file.load(path)


def junit(evidence: Path, *cases: tuple[str, str, str]) -> None:
    """A pytest JUnit report (xunit1) of (file, name, outcome) cases."""
    suite = ElementTree.Element("testsuite")
    for file, name, outcome in cases:
        module = file.removesuffix(".py").replace("/", ".")
        case = ElementTree.SubElement(suite, "testcase", classname=module, name=name, file=file)
        tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(outcome)
        if tag:
            ElementTree.SubElement(case, tag, message=f"it {outcome}")
    root = ElementTree.Element("testsuites")
    root.append(suite)
    evidence.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(root).write(evidence / "pytest.xml")


def judged(tmp_path: Path, body: str) -> list[Result]:
    return judge(criteria(tmp_path, body), Evidence(tmp_path / "evidence"), ROOT)


def one(tmp_path: Path, body: str) -> Result:
    (result,) = judged(tmp_path, body)
    return result


TESTS = """\
  - {id: loop, area: reliability, title: the loop, check: tests,
     files: [tests/test_loop.py], min_passed: 2}
"""


# --- tests --------------------------------------------------------------------------------


def test_passing_tests_are_go(tmp_path: Path) -> None:
    junit(
        tmp_path / "evidence",
        (LOOP, "test_a", "passed"),
        (LOOP, "test_b", "passed"),
        ("tests/test_x.py", "test_c", "failed"),
    )
    result = one(tmp_path, TESTS)
    assert result.go, result.reason
    assert result.measured == "2 passed, none failed or skipped"
    assert result.command == "umockdev-wrapper .venv/bin/python -m pytest tests/test_loop.py"


def test_a_failing_test_makes_its_criterion_and_the_review_no_go(tmp_path: Path) -> None:
    junit(
        tmp_path / "evidence",
        (LOOP, "test_a", "passed"),
        (LOOP, "test_b", "passed"),
        (LOOP, "test_c", "failed"),
    )
    results = judged(tmp_path, TESTS)
    assert not results[0].go
    assert "tests/test_loop.py::test_c failed: it failed" in results[0].reason
    assert report.verdict(results) == "NO-GO"


def test_missing_evidence_is_no_go_never_go(tmp_path: Path) -> None:
    body = (
        TESTS
        + """\
  - {id: b, area: performance, title: b, check: benchmark, benchmark: bench_idle, min_targets: 0}
  - {id: c, area: reliability, title: c, check: fault_campaign, min_tried: 0}
  - {id: d, area: security, title: d, check: bandit, severity: HIGH}
  - {id: e, area: security, title: e, check: sbom, min_components: 0}
  - {id: f, area: system, title: f, check: step, step: lint}
  - {id: g, area: security, title: g, check: secrets_scan, min_files: 0}
"""
    )
    results = judged(tmp_path, body)
    assert len(results) == 7
    for result in results:
        assert not result.go and result.reason.startswith("missing evidence: "), result
        assert result.measured == "no evidence"
    assert report.verdict(results) == "NO-GO"
    assert report.verdict([]) == "NO-GO"  # no criterion judged is no review


def test_files_with_no_test_run_are_missing_evidence(tmp_path: Path) -> None:
    junit(tmp_path / "evidence", ("tests/test_x.py", "test_loop_a", "passed"))
    result = one(tmp_path, TESTS)
    assert not result.go and result.reason == "missing evidence: no test of tests/test_loop.py ran"


def test_fewer_passed_than_the_threshold_is_no_go(tmp_path: Path) -> None:
    junit(tmp_path / "evidence", (LOOP, "test_a", "passed"))
    result = one(tmp_path, TESTS)
    assert not result.go and "only 1 passed, fewer than 2" in result.reason


def test_a_skip_is_no_go_unless_the_criteria_accept_it(tmp_path: Path) -> None:
    junit(
        tmp_path / "evidence",
        (LOOP, "test_a", "passed"),
        (LOOP, "test_b", "passed"),
        (LOOP, "test_c", "skipped"),
    )
    assert not one(tmp_path, TESTS).go
    accepted = TESTS.replace(
        "min_passed: 2}",
        "min_passed: 2, accepted_skips: [{test: 'tests/test_loop.py::test_c', reason: why}]}",
    )
    result = one(tmp_path, accepted)
    assert result.go and result.measured.endswith("1 skipped (accepted)")


def test_keywords_select_as_pytest_k_does(tmp_path: Path) -> None:
    junit(
        tmp_path / "evidence",
        (LOOP, "test_mediamtx_down", "passed"),
        (LOOP, "test_slow_mediamtx[x]", "passed"),
        (LOOP, "test_unrelated", "failed"),
    )
    body = TESTS.replace("min_passed: 2}", "min_passed: 2, keywords: [mediamtx_down, SLOW]}")
    result = one(tmp_path, body)
    assert result.go and result.measured.startswith("2 passed")
    assert result.command.endswith('tests/test_loop.py -k "mediamtx_down or SLOW"')


def test_a_collection_error_counts_against_a_folder(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    junit(evidence, (LOOP, "test_a", "passed"))
    text = (evidence / "pytest.xml").read_text()  # what pytest writes for a module that errors
    broken = '<testcase classname="" name="tests.test_broken"><error message="collection failure"/>'
    broken += "</testcase></testsuite>"
    (evidence / "pytest.xml").write_text(text.replace("</testsuite>", broken))
    result = one(tmp_path, TESTS.replace("tests/test_loop.py]", "tests/]").replace("2}", "1}"))
    assert not result.go and "tests/test_broken.py" in result.reason


def test_hypothesis_examples_come_from_its_statistics(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    junit(evidence, (LOOP, "test_a", "passed"), (LOOP, "test_b", "passed"))
    (evidence / PYTEST_LOG).write_text(
        "tests/test_loop.py::test_a:\n\n  - during generate phase (1.98 seconds):\n"
        "    - 600 passing, 0 failing, and 85 invalid test cases\n\n"
        "tests/test_other.py::test_z:\n    - 5000 passing, 0 failing, and 1 invalid test cases\n"
    )
    body = TESTS.replace("min_passed: 2}", "min_passed: 2, min_examples: 700}")
    result = one(tmp_path, body)
    assert not result.go and "only 600 hypothesis examples passed" in result.reason
    assert one(tmp_path, body.replace("700", "600")).go


# --- benchmarks: the verdict file benchmarks/targets.py writes ------------------------------


def bench_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *met: bool) -> Path:
    path = tmp_path / "evidence" / "bench.json"
    monkeypatch.setenv("BENCH_VERDICTS", str(path))

    def bench_idle() -> None:
        for i, ok in enumerate(met):
            print(f"  target {i}: {i * 10} ms (target <= 5 ms: {verdict(ok, f'idle {i}')})")
        print("  calibration: a bare thread makes 49.9 switches/s")

    bench_idle.__module__ = "benchmarks.bench_idle"
    run(bench_idle)
    return path


def test_the_verdict_file_holds_each_target_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(bench_verdicts(tmp_path, monkeypatch, True, False).read_text())
    assert data["complete"] is True and data["exit_status"] == 1
    (bench,) = data["benchmarks"]
    assert bench["name"] == "bench_idle"
    assert bench["targets"] == [
        {"target": "idle 0", "met": True, "line": "target 0: 0 ms (target <= 5 ms: met)"},
        {"target": "idle 1", "met": False, "line": "target 1: 10 ms (target <= 5 ms: NOT met)"},
    ]
    assert bench["calibration"] == ["calibration: a bare thread makes 49.9 switches/s"]


def test_a_target_not_met_is_no_go_beside_its_calibration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "  - {id: idle, area: performance, title: idle, check: benchmark,\n"
    body += "     benchmark: bench_idle, min_targets: 2}\n"
    bench_verdicts(tmp_path, monkeypatch, True, True)
    result = one(tmp_path, body)
    assert result.go and result.measured.startswith("2 of 2 targets met")
    assert "calibration: a bare thread makes 49.9 switches/s" in result.details[-1]
    bench_verdicts(tmp_path, monkeypatch, True, False)
    result = one(tmp_path, body)
    assert not result.go and "idle 1: target 1: 10 ms (target <= 5 ms: NOT met)" in result.reason
    other = one(tmp_path, body.replace("bench_idle", "bench_view"))
    assert not other.go and other.reason == "missing evidence: bench_view did not run"


def test_a_benchmark_that_raises_is_a_target_not_met(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_VERDICTS", str(tmp_path / "evidence" / "bench.json"))

    def bench_loop() -> None:
        raise TimeoutError("not within 30 s")

    bench_loop.__module__ = "benchmarks.bench_loop"
    assert run(bench_loop) == 1
    body = "  - {id: loop, area: performance, title: l, check: benchmark, benchmark: bench_loop,"
    result = one(tmp_path, body + " min_targets: 0}\n")
    assert not result.go and "stopped by TimeoutError: not within 30 s" in result.reason


# --- the fault campaign, bandit, the SBOM ---------------------------------------------------


def write_json(tmp_path: Path, name: str, data: Any) -> None:
    (tmp_path / "evidence").mkdir(exist_ok=True)
    (tmp_path / "evidence" / name).write_text(json.dumps(data))


def test_a_fault_that_did_not_hold_is_no_go(tmp_path: Path) -> None:
    body = "  - {id: c, area: reliability, title: c, check: fault_campaign, min_tried: 10}\n"
    held = {"a": {"tried": 6, "held": 6, "failed": []}, "b": {"tried": 5, "held": 5, "failed": []}}
    write_json(tmp_path, "fault-campaign.json", held)
    assert one(tmp_path, body).measured == "11 faults tried in 2 classes, 11 held"
    assert one(tmp_path, body).go
    held["b"] = {"tried": 5, "held": 4, "failed": ["empty file: DELETE cams/a"]}
    write_json(tmp_path, "fault-campaign.json", held)
    assert "b: empty file: DELETE cams/a" in one(tmp_path, body).reason
    write_json(tmp_path, "fault-campaign.json", {"a": held["a"]})
    assert "only 6 faults tried, fewer than 10" in one(tmp_path, body).reason


def finding(test_id: str, file: str, line: int, code: str, severity: str) -> dict[str, Any]:
    return {
        "test_id": test_id,
        "filename": file,
        "line_number": line,
        "issue_severity": severity,
        "issue_text": "something",
        "code": f"{line - 1} before\n{line} {code}\n",
    }


BANDIT = """\
  - id: b
    area: security
    title: bandit
    check: bandit
    severity: MEDIUM
    accepted:
      - {test_id: B105, file: controller/x.py, line_contains: 'NAME = "PASSWORD"', reason: a name}
"""


def test_bandit_findings_are_no_go_unless_accepted_with_a_reason(tmp_path: Path) -> None:
    accepted = finding("B105", "controller/x.py", 3, 'NAME = "PASSWORD"', "MEDIUM")
    low = finding("B101", "controller/y.py", 9, "assert x", "LOW")  # below the threshold
    write_json(tmp_path, "bandit.json", {"results": [accepted, low], "errors": []})
    result = one(tmp_path, BANDIT)
    assert result.go and result.measured.startswith("1 findings at or above MEDIUM: 1 accepted")
    changed = finding("B105", "controller/x.py", 3, 'NAME = "hunter2"', "MEDIUM")
    high = finding("B602", "controller/z.py", 5, "subprocess.run(x, shell=True)", "HIGH")
    write_json(tmp_path, "bandit.json", {"results": [changed, high], "errors": []})
    result = one(tmp_path, BANDIT)
    assert not result.go
    assert "controller/x.py:3 B105" in result.reason and "controller/z.py:5 B602" in result.reason
    assert result.note == "accepted but no longer found: controller/x.py B105"


def test_the_sbom_must_list_every_runtime_dependency(tmp_path: Path) -> None:
    body = "  - {id: s, area: security, title: s, check: sbom, min_components: 2}\n"
    steps_record(tmp_path, {"name": "sbom", "log": "sbom.log", "commands": [command(0)]})
    names = [
        "Pydantic",
        "ruamel.yaml",
        "ruamel_yaml_clib",
        "pyudev",
        "click",
        "aiohttp",
        "asyncinotify",
        "watchfiles",
        "prometheus_client",
        "kopf",
    ]
    components = [{"name": n, "version": "1"} for n in names]
    write_json(
        tmp_path,
        "sbom.cdx.json",
        {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components},
    )
    assert one(tmp_path, body).go
    write_json(
        tmp_path,
        "sbom.cdx.json",
        {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components[1:]},
    )
    result = one(tmp_path, body)
    assert not result.go and "runtime dependency pydantic is not in the SBOM" in result.reason


# --- steps of the review, the secrets scan ----------------------------------------------------


def command(code: int | None, error: str = "") -> dict[str, Any]:
    return {
        "display": "kubectl kustomize manifests/base",
        "exit": code,
        "seconds": 0.1,
        "error": error,
    }


def steps_record(tmp_path: Path, *records: dict[str, Any]) -> None:
    write_json(tmp_path, "steps.json", {"commit": "abc", "seconds": 61, "steps": list(records)})


def test_a_step_whose_command_failed_is_no_go(tmp_path: Path) -> None:
    body = "  - {id: k, area: system, title: k, check: step, step: kustomize, min_count: 5}\n"
    ok = {
        "name": "kustomize",
        "log": "kustomize.log",
        "commands": [command(0)],
        "figure": "1 of 1 rendered: base 9 objects",
        "count": 9,
    }
    steps_record(tmp_path, ok)
    result = one(tmp_path, body)
    assert result.go and result.measured == "1 of 1 rendered: base 9 objects"
    assert result.command == "kubectl kustomize manifests/base"
    steps_record(tmp_path, ok | {"commands": [command(None, "kubectl is not installed")]})
    assert "kubectl is not installed" in one(tmp_path, body).reason
    steps_record(tmp_path, ok | {"count": 3})
    assert "counted 3, fewer than 5" in one(tmp_path, body).reason


def test_the_scan_finds_the_planted_password_in_any_form(tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    (out / "e2e").mkdir(parents=True)
    secret = "orrAbC123xyz:p@ss/w%rd"
    (out / "e2e" / "camctl.log").write_text("nothing to see\n")
    (out / "pytest.xml").write_text("source rtsp://viewer:orrAbC123xyz%3Ap%40ss%2Fw%25rd@host\n")
    steps.secrets_scan(steps.Context(ROOT, out, secret), steps.Record("secrets-scan", "x.log"))
    body = "  - {id: g, area: security, title: g, check: secrets_scan, min_files: 2,\n"
    body += "     must_scan: [e2e/camctl.log, bench.log]}\n"
    result = one(tmp_path, body)
    assert not result.go
    assert "the planted password shows (percent-encoded) in pytest.xml" in result.reason
    assert "the planted password shows (its random part) in pytest.xml" in result.reason
    assert "bench.log was not among the files scanned" in result.reason
    (out / "pytest.xml").write_text("clean\n")
    (out / "bench.log").write_text("clean\n")
    steps.secrets_scan(steps.Context(ROOT, out, secret), steps.Record("secrets-scan", "x.log"))
    assert one(tmp_path, body).go


# --- pending criteria, the criteria file, the package ----------------------------------------


def test_a_pending_criterion_is_no_go_until_its_evidence_is_in(tmp_path: Path) -> None:
    pending = TESTS.replace("min_passed: 2}", "min_passed: 2, pending: written next}")
    junit(tmp_path / "evidence", ("tests/test_x.py", "test_a", "passed"))
    result = one(tmp_path, pending)
    assert not result.go and result.reason.startswith("pending (written next); missing evidence")
    junit(tmp_path / "evidence", (LOOP, "test_a", "passed"), (LOOP, "test_b", "passed"))
    result = one(tmp_path, pending)
    assert result.go and result.note.startswith("marked pending, but its evidence is in")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{id: a, area: system, title: a, check: test, files: [x], min_passed: 1}",
            "check 'test' is not one of",
        ),
        (
            "{id: a, area: system, title: a, check: tests, files: [x], min_pass: 1}",
            "tests takes no 'min_pass'",
        ),
        (
            "{id: a, area: system, title: a, check: tests, files: [x], min_passed: '1'}",
            "min_passed must be of type int",
        ),
        (
            "{id: a, area: ops, title: a, check: tests, files: [x], min_passed: 1}",
            "area 'ops' is not one of",
        ),
        ("{id: a, area: system, title: a, check: tests, files: [x]}", "tests needs min_passed"),
        ("{id: a, area: system, title: a, check: bandit, severity: low}", "severity is one of"),
        (
            "{id: a, area: system, title: a, check: bandit, severity: LOW, accepted: [{x: 1}]}",
            "an accepted finding has exactly",
        ),
        ("{id: A, area: system, title: a, check: sbom, min_components: 1}", "an id is lowercase"),
    ],
)
def test_the_criteria_file_refuses_what_would_check_nothing(
    tmp_path: Path, entry: str, message: str
) -> None:
    with pytest.raises(criteria_file.CriteriaError, match=message):
        criteria(tmp_path, f"  - {entry}\n")
    with pytest.raises(criteria_file.CriteriaError, match="used twice"):
        twice = "  - {id: a, area: system, title: a, check: sbom, min_components: 1}\n"
        criteria(tmp_path, twice * 2)


def test_the_package_says_go_or_no_go_and_why(tmp_path: Path) -> None:
    junit(tmp_path / "evidence", (LOOP, "test_a", "passed"), (LOOP, "test_b", "passed"))
    steps_record(
        tmp_path,
        {
            "name": "lint",
            "log": "lint.log",
            "commands": [command(0)],
            "figure": "4 of 4 checks passed",
            "count": 4,
        },
    )
    body = TESTS + "  - {id: lint, area: system, title: lint clean, check: step, step: lint}\n"
    (tmp_path / "criteria.yaml").write_text(HEADER + "criteria:\n" + body)
    out = ["--out", str(tmp_path), "--criteria", str(tmp_path / "criteria.yaml")]
    assert main([*out, "--report-only"]) == 0
    index = (tmp_path / "index.md").read_text()
    assert index.startswith("# camctl operational readiness review: GO\n")
    assert "| loop | the loop | 2 passed, none failed or skipped | >= 2 passed" in index
    assert "Every criterion is GO." in index
    data = json.loads((tmp_path / "index.json").read_text())
    assert data["verdict"] == "GO" and [c["result"] for c in data["criteria"]] == ["GO", "GO"]
    for name in ("summary.md", "system.md", "performance.md", "security.md", "reliability.md"):
        assert (tmp_path / name).read_text().strip()

    junit(tmp_path / "evidence", (LOOP, "test_a", "passed"), (LOOP, "test_b", "failed"))
    assert main([*out, "--report-only"]) == 1
    index = (tmp_path / "index.md").read_text()
    assert index.startswith("# camctl operational readiness review: NO-GO\n")
    assert "- **loop** (reliability): tests/test_loop.py::test_b failed: it failed" in index
    summary = (tmp_path / "summary.md").read_text()
    assert "**NO-GO**: 1 of 2 criteria GO" in summary
    assert json.loads((tmp_path / "index.json").read_text())["verdict"] == "NO-GO"


# --- the project's criteria file ------------------------------------------------------------


def functions_of(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_the_criteria_name_exists_unless_pending() -> None:
    """Criteria that name a file or a keyword that matches nothing would be NO-GO for ever
    (or, worse, measure something else): each is checked against the tests as they are."""
    loaded = criteria_file.load(ROOT / "docs" / "orr" / "criteria.yaml")
    assert set(loaded.areas) == set(report.INTRO)
    for c in (c for c in loaded.items if c.check == "tests" and not c.pending):
        files = []
        for name in c.get("files"):
            path = ROOT / name
            assert path.exists(), f"{c.id}: {name} does not exist"
            files += sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
        names = {f"{f.stem} {n}".lower() for f in files for n in functions_of(f)}
        for keyword in c.get("keywords", []):
            assert any(keyword.lower() in n for n in names), f"{c.id}: no test has {keyword!r}"
        for skip in c.get("accepted_skips", []):
            file, _, name = skip["test"].partition("::")
            assert name in functions_of(ROOT / file), f"{c.id}: {skip['test']} does not exist"
    for c in (c for c in loaded.items if c.check == "benchmark"):
        assert (ROOT / "benchmarks" / f"{c.get('benchmark')}.py").exists(), c.id
    for c in (c for c in loaded.items if c.check == "step"):
        assert c.get("step") in steps.STEPS, c.id


def test_accepted_bandit_findings_point_at_lines_that_exist() -> None:
    loaded = criteria_file.load(ROOT / "docs" / "orr" / "criteria.yaml")
    (bandit,) = (c for c in loaded.items if c.check == "bandit")
    for accepted in bandit.get("accepted"):
        text = (ROOT / accepted["file"]).read_text()
        assert accepted["line_contains"] in text, accepted
