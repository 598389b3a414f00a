"""`make bench` judges every target and never stops early: its exit status is the verdict.

A benchmark that cannot finish (a wait that runs out on a busy machine) is reported as a
target NOT met, with what it measured, and the benchmarks after it still run.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from benchmarks import bench_kubernetes
from benchmarks.targets import missed, run, verdict


def test_every_target_met_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(lambda: print(verdict(True, "a")), lambda: print(verdict(True, "b"))) == 0
    assert capsys.readouterr().out.splitlines() == ["met", "met", "every target met"]


def test_one_target_not_met_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(lambda: print(verdict(False, "slow thing")), lambda: print(verdict(True, "b"))) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == ["NOT met", "met", "targets NOT met (1): slow thing"]


def test_a_benchmark_that_raises_is_not_met_and_the_next_one_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran = []

    def times_out() -> None:
        raise TimeoutError("not within 30 s: paths restored")

    def refused() -> None:
        missed("udev add", "REFUSED: needs the umockdev preload")

    assert run(times_out, refused, lambda: ran.append("after")) == 1
    out = capsys.readouterr().out
    assert "stopped by TimeoutError: not within 30 s: paths restored" in out
    assert "udev add: NOT met: REFUSED" in out and ran == ["after"]
    assert out.splitlines()[-1].startswith("targets NOT met (2): ")


class OneCameraUnplugged(bench_kubernetes.Devices):
    def __init__(self, names: list[str]) -> None:
        super().__init__(names[:-1])


def test_a_kubernetes_start_up_that_runs_out_of_time_reports_its_numbers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It aborted the whole run with an AssertionError after 60 s on a busy machine."""
    monkeypatch.setattr(bench_kubernetes, "N", 3)
    monkeypatch.setattr(bench_kubernetes, "STARTUP_WAIT", 2.0)
    monkeypatch.setattr(bench_kubernetes, "Devices", OneCameraUnplugged)  # never Ready

    def start_up() -> None:
        bench_kubernetes.report_startup(asyncio.run(bench_kubernetes.startup(tmp_path)))

    assert run(start_up) == 1
    out = capsys.readouterr().out
    assert re.search(r"start-up N=3 Streams: operator start -> only [012] of 3 Ready after", out)
    assert "target all 3 Ready within 2 s: NOT met" in out
    assert "stopped by" not in out
