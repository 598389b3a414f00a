"""The review's steps: each runs real commands and leaves their output in the evidence folder.

In order: lint, the whole test suite once (JUnit report with every test's output, and
hypothesis statistics; the system validation of tests/e2e/ plants a password given here),
the fault campaign, bandit, the SBOM, kustomize on every overlay, promtool on the alert
rules and their unit tests, the benchmarks (on a machine the other steps have left quiet),
and last the search of everything written for the planted password. Each step's commands,
exit codes and times go to steps.json; a step never stops the ones after it.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ruamel.yaml import YAML

from . import evidence as names

MINUTE = 60.0


@dataclass
class Context:
    repo: Path
    out: Path  # the evidence folder
    secret: str  # the password planted in the system validation
    say: Callable[[str], None] = print

    @property
    def python(self) -> str:
        return sys.executable

    def tool(self, name: str) -> str:
        """A tool of the environment the review runs in (beside its python), else on PATH."""
        beside = Path(self.python).parent / name
        return str(beside) if beside.exists() else (shutil.which(name) or name)

    def display(self, argv: list[str]) -> str:
        """The command as a person types it from the repository's root."""
        return shlex.join(self._short(a) for a in argv)

    def _short(self, arg: str) -> str:
        if arg.startswith(str(self.repo) + os.sep):
            return os.path.relpath(arg, self.repo)
        return arg


@dataclass
class Record:
    name: str
    log: str
    commands: list[dict[str, Any]] = field(default_factory=list)
    figure: str = ""
    count: int | None = None


def run_command(
    ctx: Context,
    record: Record,
    argv: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
) -> int | None:
    """Run one command; its output goes to the step's log (stdout to a file if given)."""
    display = ctx.display(argv)
    ctx.say(f"  $ {display}")
    log = ctx.out / record.log
    started = time.monotonic()
    code: int | None = None
    error = ""
    with log.open("ab") as err, ExitStack() as files:
        err.write(f"$ {display}\n".encode())
        err.flush()
        out = files.enter_context(stdout.open("wb")) if stdout else err
        try:
            done = subprocess.run(
                argv,
                cwd=cwd or ctx.repo,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=timeout,
            )
            code = done.returncode
        except FileNotFoundError:
            error = f"{argv[0]} is not installed"
        except subprocess.TimeoutExpired:
            error = f"did not finish within {timeout:.0f} s"
    seconds = round(time.monotonic() - started, 1)
    record.commands.append({"display": display, "exit": code, "seconds": seconds, "error": error})
    return code


# --- the steps --------------------------------------------------------------------------


def lint(ctx: Context, record: Record) -> None:
    where = ["controller", "tests", "benchmarks", "tools"]
    for argv in (
        [ctx.tool("ruff"), "check", *where],
        [ctx.tool("ruff"), "format", "--check", *where],
        [ctx.tool("mypy")],
        [ctx.tool("lint-imports")],
    ):
        run_command(ctx, record, argv, timeout=10 * MINUTE)
    passed = sum(c["exit"] == 0 for c in record.commands)
    record.figure = f"{passed} of {len(record.commands)} checks passed (ruff, format, mypy, layers)"
    record.count = passed


def tests(ctx: Context, record: Record) -> None:
    argv = [
        "umockdev-wrapper",
        ctx.python,
        "-m",
        "pytest",
        "-q",
        "--hypothesis-show-statistics",
        "--junitxml",
        str(ctx.out / names.JUNIT),
        "-o",
        "junit_family=xunit1",
        "-o",
        "junit_logging=all",
    ]
    env = {"CAMCTL_E2E_EVIDENCE": str(ctx.out / names.E2E), "CAMCTL_E2E_SECRET": ctx.secret}
    run_command(ctx, record, argv, timeout=30 * MINUTE, env=env)
    if (ctx.out / names.JUNIT).exists():
        record.figure = f"JUnit report written ({(ctx.out / names.JUNIT).stat().st_size:,} bytes)"


def fault_campaign(ctx: Context, record: Record) -> None:
    argv = [ctx.python, str(ctx.repo / "tools" / "fault_campaign.py"), "-o", "json"]
    code = run_command(ctx, record, argv, timeout=10 * MINUTE, stdout=ctx.out / names.CAMPAIGN)
    if code in (0, 1):  # 1: some fault did not hold, and the JSON says which
        classes = json.loads((ctx.out / names.CAMPAIGN).read_text())
        tried = sum(c["tried"] for c in classes.values())
        held = sum(c["held"] for c in classes.values())
        record.figure = f"{tried} faults tried in {len(classes)} classes, {held} held"
        record.count = held


def bandit(ctx: Context, record: Record) -> None:
    argv = [
        ctx.tool("bandit"),
        "-r",
        "controller",
        "-f",
        "json",
        "-q",
        "-o",
        str(ctx.out / names.BANDIT),
    ]
    code = run_command(ctx, record, argv, timeout=5 * MINUTE)
    if code == 1 and (ctx.out / names.BANDIT).exists():
        record.figure = "exit 1: bandit found something; judged against the accepted findings"


def sbom(ctx: Context, record: Record) -> None:
    argv = [
        ctx.tool("cyclonedx-py"),
        "environment",
        "--pyproject",
        "pyproject.toml",
        "--of",
        "JSON",
        "--validate",
        "-o",
        str(ctx.out / names.SBOM),
        ctx.python,
    ]
    if run_command(ctx, record, argv, timeout=5 * MINUTE) == 0:
        components = json.loads((ctx.out / names.SBOM).read_text()).get("components", [])
        record.figure = f"{len(components)} components, validated"
        record.count = len(components)


def kustomize(ctx: Context, record: Record) -> None:
    rendered = ctx.out / "kustomize"
    rendered.mkdir(exist_ok=True)
    counts = []
    for kustomization in sorted((ctx.repo / "manifests").glob("*/kustomization.yaml")):
        directory = kustomization.parent
        target = rendered / f"{directory.name}.yaml"
        code = run_command(
            ctx, record, ["kubectl", "kustomize", str(directory)], timeout=2 * MINUTE, stdout=target
        )
        if code == 0:
            objects = [d for d in YAML(typ="safe").load_all(target.read_text()) if d]
            counts.append((directory.name, len(objects)))
    record.count = sum(n for _, n in counts)
    record.figure = f"{len(counts)} of {len(record.commands)} rendered: " + ", ".join(
        f"{name} {n} objects" for name, n in counts
    )


def _prometheus(ctx: Context) -> tuple[Path, int, int]:
    """The PrometheusRule's groups as a plain rule file: (folder, groups, rules)."""
    folder = ctx.out / "prometheus"
    folder.mkdir(exist_ok=True)
    source = ctx.repo / "manifests" / "prometheus" / "prometheusrule.yaml"
    documents = [d for d in YAML(typ="safe").load_all(source.read_text()) if d]
    groups = [
        g for d in documents if d.get("kind") == "PrometheusRule" for g in d["spec"]["groups"]
    ]
    with (folder / "rules.yaml").open("w") as out:
        YAML(typ="safe").dump({"groups": groups}, out)
    return folder, len(groups), sum(len(g.get("rules", [])) for g in groups)


def promtool_check(ctx: Context, record: Record) -> None:
    folder, groups, rules = _prometheus(ctx)
    code = run_command(
        ctx, record, ["promtool", "check", "rules", "rules.yaml"], timeout=2 * MINUTE, cwd=folder
    )
    record.count = rules if code == 0 else 0
    record.figure = f"{rules} rules, {groups} groups" + ("" if code == 0 else ": refused")


def promtool_test(ctx: Context, record: Record) -> None:
    folder, _, _ = _prometheus(ctx)
    tests = sorted((ctx.repo / "tests" / "prometheus").glob("*.test.yaml"))
    if not tests:
        record.figure = "no promtool unit tests (tests/prometheus/*.test.yaml)"
        return
    for test in tests:
        shutil.copy(test, folder / test.name)
    cases = sum(len(YAML(typ="safe").load(t.read_text()).get("tests", [])) for t in tests)
    code = run_command(
        ctx,
        record,
        ["promtool", "test", "rules", *(t.name for t in tests)],
        timeout=5 * MINUTE,
        cwd=folder,
    )
    record.count = cases if code == 0 else 0
    record.figure = f"{cases} test groups in {len(tests)} files" + ("" if code == 0 else ": failed")


def benchmarks(ctx: Context, record: Record) -> None:
    verdicts = ctx.out / names.BENCH
    argv = ["umockdev-wrapper", ctx.python, "-m", "benchmarks"]
    run_command(ctx, record, argv, timeout=15 * MINUTE, env={"BENCH_VERDICTS": str(verdicts)})
    if verdicts.exists():
        data = json.loads(verdicts.read_text())
        targets = [t for b in data["benchmarks"] for t in b["targets"]]
        met = sum(t["met"] for t in targets)
        record.figure = f"{met} of {len(targets)} targets met"
        record.count = met


def forms(secret: str) -> dict[str, bytes]:
    """How the planted password could show: raw, percent-encoded, its random part alone,
    and inside an HTTP Basic header."""
    core = secret.split(":", 1)[0]
    basic = base64.b64encode(f"viewer:{secret}".encode()).decode()
    return {
        "raw": secret.encode(),
        "percent-encoded": quote(secret, safe="").encode(),
        "percent-encoded (keeping /)": quote(secret).encode(),
        "its random part": core.encode(),
        "in a Basic header": basic.encode(),
    }


def secrets_scan(ctx: Context, record: Record) -> None:
    """Every file the review wrote, searched for the planted password in all its forms."""
    wanted = forms(ctx.secret)
    scanned, hits, size = [], [], 0
    for path in sorted(p for p in ctx.out.rglob("*") if p.is_file()):
        name = str(path.relative_to(ctx.out))
        if name in (names.SCAN, names.STEPS):
            continue
        data = path.read_bytes()
        scanned.append(name)
        size += len(data)
        hits += [{"file": name, "form": form} for form, text in wanted.items() if text in data]
    result = {"scanned": scanned, "bytes": size, "forms": list(wanted), "hits": hits}
    (ctx.out / names.SCAN).write_text(json.dumps(result, indent=1) + "\n")
    record.figure = f"{len(hits)} hits in {len(scanned)} files"
    record.count = len(scanned)


STEPS: dict[str, Callable[[Context, Record], None]] = {
    "lint": lint,
    "tests": tests,
    "fault-campaign": fault_campaign,
    "bandit": bandit,
    "sbom": sbom,
    "kustomize": kustomize,
    "promtool-check": promtool_check,
    "promtool-test": promtool_test,
    "benchmarks": benchmarks,
    "secrets-scan": secrets_scan,
}


def run_all(ctx: Context, only: list[str] | None = None) -> dict[str, Any]:
    """Run the steps (all, or `only` those), record them in steps.json; the record."""
    ctx.out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "started": _now(),
        "commit": _git(ctx, "rev-parse", "HEAD"),
        "uncommitted": bool(_git(ctx, "status", "--porcelain")),
        "cpus": os.cpu_count(),
        "load_before": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "steps": [],
    }
    started = time.monotonic()
    for name, step in STEPS.items():
        if only is not None and name not in only:
            continue
        ctx.say(f"orr: {name}")
        record = Record(name, f"{name}.log")
        began = time.monotonic()
        step(ctx, record)
        meta["steps"].append({**asdict(record), "seconds": round(time.monotonic() - began, 1)})
        meta["seconds"] = round(time.monotonic() - started, 1)
        (ctx.out / names.STEPS).write_text(json.dumps(meta, indent=1) + "\n")
    meta |= {"finished": _now(), "load_after": round(os.getloadavg()[0], 2)}
    (ctx.out / names.STEPS).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _git(ctx: Context, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ctx.repo, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
