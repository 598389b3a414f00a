"""The benchmarks' targets: each is met or NOT met, printed beside the numbers it judges.

A benchmark never ends the run: a measurement that cannot finish (a wait that runs out on a
busy machine, a tool that fails) prints what it got and counts as a target NOT met, and the
next measurement runs. The exit status of `make bench` (and of `python -m benchmarks.NAME`)
is 0 only when every target was met, so CI or a person can gate on it.

With `BENCH_VERDICTS=FILE` in the environment the run also writes its verdicts as JSON (the
operational readiness review reads them: tools/orr): for each benchmark, every target with
the line that printed it, its calibration lines (a printed line that starts with
`calibration:`), everything it printed, its run time and the machine's load before and
after. The file is rewritten after each benchmark, so a run that is stopped leaves what it
measured, marked incomplete.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, cast

FORMAT = "camctl-bench-verdicts/1"
VERDICTS_ENV = "BENCH_VERDICTS"
_missed: list[str] = []


@dataclass
class Target:
    target: str
    met: bool
    line: str = ""  # the printed line that carries the figures and the threshold


@dataclass
class Benchmark:
    name: str
    load_before: float
    seconds: float = 0.0
    load_after: float = 0.0
    targets: list[Target] = field(default_factory=list)
    calibration: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


class _Recorder:
    """What the benchmarks print and judge, line by line, for the verdict file."""

    def __init__(self, path: Path) -> None:
        self.path, self.started = path, _now()
        self.benchmarks: list[Benchmark] = []
        self.pending: list[Target] = []  # judged, their line not yet printed

    def judged(self, what: str, met: bool) -> None:
        if self.benchmarks:
            target = Target(what, met)
            self.benchmarks[-1].targets.append(target)
            self.pending.append(target)

    def printed(self, line: str) -> None:
        if not self.benchmarks:
            return
        bench = self.benchmarks[-1]
        bench.lines.append(line)
        if line.strip().startswith("calibration:"):
            bench.calibration.append(line.strip())
        for target in self.pending:
            target.line = line.strip()
        self.pending.clear()

    def write(self, complete: bool, exit_status: int | None = None) -> None:
        data = {
            "format": FORMAT,
            "complete": complete,
            "started": self.started,
            "finished": _now() if complete else None,
            "cpus": os.cpu_count(),
            "exit_status": exit_status,
            "missed": list(_missed),
            "benchmarks": [asdict(b) for b in self.benchmarks],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=1) + "\n")
        partial.replace(self.path)


class _Lines(io.TextIOBase):
    """Writes through to `out` and hands each complete line to `seen`."""

    def __init__(self, out: TextIO, seen: Callable[[str], None]) -> None:
        self._out, self._seen, self._partial = out, seen, ""

    def write(self, text: str) -> int:
        self._out.write(text)
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._seen(line)
        return len(text)

    def flush(self) -> None:
        self._out.flush()


_recorder: _Recorder | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def verdict(met: bool, what: str) -> str:
    """ "met" or "NOT met"; a miss is remembered for the exit status."""
    if not met:
        _missed.append(what)
    if _recorder is not None:
        _recorder.judged(what, met)
    return "met" if met else "NOT met"


def missed(what: str, why: str) -> None:
    """A target that could not be judged: printed, and counted as NOT met."""
    print(f"  {what}: {verdict(False, what)}: {why}")


@contextmanager
def measuring(what: str) -> Iterator[None]:
    """Run one measurement; if it raises, say so as a target NOT met and go on."""
    try:
        yield
    except Exception as error:  # any failure of one measurement: the others still run
        missed(what, f"stopped by {type(error).__name__}: {error}")


def run(*benchmarks: Callable[[], object]) -> int:
    """Run the benchmarks one after the other; 1 if any target was NOT met, else 0."""
    global _recorder
    _missed.clear()
    path = os.environ.get(VERDICTS_ENV)
    _recorder = _Recorder(Path(path)) if path else None
    try:
        for benchmark in benchmarks:
            _one(benchmark)
        status = 1 if _missed else 0
        if _missed:
            print(f"targets NOT met ({len(_missed)}): {'; '.join(_missed)}")
        else:
            print("every target met")
        if _recorder is not None:
            _recorder.write(complete=True, exit_status=status)
        return status
    finally:
        _recorder = None


def _module_name(benchmark: Callable[[], object]) -> str:
    """The benchmark's module, also when it runs as `python -m benchmarks.NAME`."""
    spec = getattr(sys.modules.get(benchmark.__module__), "__spec__", None)
    return spec.name if spec is not None else benchmark.__module__


def _one(benchmark: Callable[[], object]) -> None:
    name = _module_name(benchmark).rsplit(".", 1)[-1]
    recorder = _recorder
    if recorder is None:
        with measuring(name):
            benchmark()
        sys.stdout.flush()
        return
    bench = Benchmark(name, load_before=os.getloadavg()[0])
    recorder.benchmarks.append(bench)
    started = time.monotonic()
    real = sys.stdout
    sys.stdout = cast(TextIO, _Lines(real, recorder.printed))
    try:
        with measuring(name):
            benchmark()
    finally:
        sys.stdout.flush()
        sys.stdout = real
    bench.seconds = round(time.monotonic() - started, 1)
    bench.load_after = os.getloadavg()[0]
    recorder.write(complete=False)
