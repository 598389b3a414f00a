"""Applying N streams to the MediaMTX emulator through the real client and reconcile_once.

Each run starts a fresh emulator (over HTTP, in its own thread) and a fresh state directory,
applies N streams from scratch (cold), then reconciles again (converged) with the statuses of
the pass before, as the controller's loop does on a resync. The API calls are counted from the
emulator's request log: a cold apply must write once per change and read nothing but list
pages; a converged resync must not write at all.

CPU time of a resync is reported for camctl alone (the thread that runs the reconcile: client,
JSON decoding, planner), the planner's share of it, and for the whole process
(time.process_time), which includes the emulator serving the list pages from its own thread.
The garbage collector is tuned as `camctl run` tunes it (loop.tune_collector).

Two states of MediaMTX: quiet, where nothing moves between passes (its publishers send
nothing: the lists read the same, byte for byte, so the client decodes nothing again), which
is "a resync with nothing to do" and what the target judges; and live, where every path's
publisher sends 2 Mbit/s, so each pass reads new byte counts and every Stream's live figures
(bytes, bitrate) change. The requests a pass makes are counted in both: the watchdog reads the
runtime list the pass reads anyway.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.targets import run, verdict
from benchmarks.world import world
from controller.api.conditions import now
from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.kinds import Ref, Status
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.apply import Outcome, reconcile_once
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import tune_collector
from controller.reconcile.plan import plan
from controller.testing.mediamtx import BYTE_RATE, MediaMTXEmulator, run_in_thread

N = 1000
RUNS = 3
LIVE_RATE = BYTE_RATE  # bytes a second each publisher sends in the live runs: 2 Mbit/s
RESYNCS = 3  # converged reconciles per run
CPU_TARGET = 0.100  # seconds of camctl CPU for a converged resync of N streams
LISTS = ("/v3/config/paths/list", "/v3/paths/list")
SETTINGS = Settings()


@dataclass
class Calls:
    """The API calls one reconcile made, from the emulator's request log."""

    by_kind: Counter[str]
    writes: int

    @property
    def reads(self) -> int:
        return sum(n for kind, n in self.by_kind.items() if kind.startswith("GET "))

    @property
    def list_pages(self) -> int:
        return sum(self.by_kind[f"GET {path}"] for path in LISTS)

    def describe(self) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(self.by_kind.items()))


@dataclass
class Resync:
    wall: float
    cpu_camctl: float
    cpu_plan: float
    cpu_process: float
    calls: Calls


@dataclass
class Run:
    cold_wall: float
    cold_changes: int
    cold_calls: Calls
    resyncs: list[Resync]
    problems: list[str]  # calls that break "write once per change, nothing when converged"


def _kind(method: str, raw_path: str) -> str:
    """`GET /v3/config/paths/list`, `POST /v3/config/paths/add`: the call without its name."""
    parts = raw_path.partition("?")[0].split("/")
    return f"{method} {'/'.join(parts[:5] if parts[2] == 'config' else parts[:4])}"


def _calls(requests: list[tuple[str, str, Any]], writes: int) -> Calls:
    return Calls(Counter(_kind(method, raw_path) for method, raw_path, _ in requests), writes)


def _pages(items: int, page_size: int) -> int:
    """List pages the client reads for `items` paths: one per list at least, even for none."""
    return len(LISTS) * max(1, math.ceil(items / page_size))


def _check_cold(cold: Outcome, calls: Calls, page_size: int) -> list[str]:
    """What breaks "one add per stream, nothing read but the list pages" in a cold apply."""
    adds = sum(1 for a in cold.plan.actions if a.op == "add")
    reads_only_pages = calls.reads == calls.list_pages == _pages(0, page_size)
    checks = [
        (adds == len(cold.plan.actions) == N, f"cold: {adds} adds, not {N}"),
        (not cold.failed, f"cold: failed actions {cold.failed[:3]}"),
        (calls.writes == adds, f"cold: {calls.writes} writes for {adds} changes"),
        (calls.by_kind["POST /v3/config/paths/add"] == adds, f"cold: [{calls.describe()}]"),
        (reads_only_pages, f"cold: reads [{calls.describe()}]"),
    ]
    return [problem for ok, problem in checks if not ok]


def _check_converged(again: Outcome, calls: Calls, page_size: int) -> list[str]:
    """What breaks "no write, nothing read but the list pages" in a converged resync."""
    only_reads = calls.writes == 0 and calls.reads == sum(calls.by_kind.values())
    checks = [
        (again.plan.converged, f"resync: not converged {again.plan.actions[:3]}"),
        (only_reads, f"resync: writes [{calls.describe()}]"),
        (calls.reads == calls.list_pages == _pages(N, page_size), f"resync: [{calls.describe()}]"),
    ]
    return [problem for ok, problem in checks if not ok]


def _plan_cpu(
    desired: Desired,
    devices: list[Device],
    outcome: Outcome,
    inventory: Inventory,
    previous: Mapping[Ref, Status],
) -> float:
    """The planner's share of a resync: the same plan again, on what that resync observed."""
    owned, observed = inventory.load(), outcome.observed
    start = time.thread_time()
    plan(
        *(desired, devices, observed.paths, owned, SETTINGS, now(), previous, observed.runtime),
        observed.recordings,
        settled=True,
        credentials=observed.credentials,
        sampled=observed.read_at,
    )  # as reconcile_once plans
    return time.thread_time() - start


async def _apply_and_resync(
    url: str, emulator: MediaMTXEmulator, state_dir: Path, desired: Desired, devices: list[Device]
) -> Run:
    inventory = Inventory(state_dir)
    async with MediaMTXClient(url) as client:
        start = time.perf_counter()
        cold = await reconcile_once(desired, devices, client, inventory, SETTINGS, settled=True)
        cold_wall = time.perf_counter() - start
        cold_calls = _calls(list(emulator.requests), emulator.write_count)
        problems = _check_cold(cold, cold_calls, client.page_size)

        resyncs, previous = [], cold.statuses
        for _ in range(RESYNCS):
            logged, written = len(emulator.requests), emulator.write_count
            wall, cpu, own_cpu = time.perf_counter(), time.process_time(), time.thread_time()
            again = await reconcile_once(
                desired, devices, client, inventory, SETTINGS, settled=True, previous=previous
            )
            own_cpu = time.thread_time() - own_cpu
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            calls = _calls(emulator.requests[logged:], emulator.write_count - written)
            problems += _check_converged(again, calls, client.page_size)
            plan_cpu = _plan_cpu(desired, devices, again, inventory, previous)
            resyncs.append(Resync(wall, own_cpu, plan_cpu, cpu, calls))
            previous = again.statuses
    return Run(cold_wall, len(cold.plan.actions), cold_calls, resyncs, problems)


def one_run(desired: Desired, devices: list[Device], byte_rate: int = 0) -> Run:
    """A fresh emulator (its publishers sending `byte_rate` bytes a second) and state
    directory, then a cold apply and converged resyncs."""
    emulator = MediaMTXEmulator(byte_rate=byte_rate)
    with run_in_thread(emulator) as url, tempfile.TemporaryDirectory() as state_dir:
        return asyncio.run(_apply_and_resync(url, emulator, Path(state_dir), desired, devices))


def main() -> None:
    tune_collector()  # as camctl run does
    desired, devices = world(N)
    runs = [one_run(desired, devices) for _ in range(RUNS)]
    resyncs = [r for run in runs for r in run.resyncs]
    cold = statistics.median(r.cold_wall for r in runs)
    wall = statistics.median(r.wall for r in resyncs)
    cpu = statistics.median(r.cpu_camctl for r in resyncs)
    plan_cpu = statistics.median(r.cpu_plan for r in resyncs)
    process_cpu = statistics.median(r.cpu_process for r in resyncs)
    first, calls = runs[0], resyncs[0].calls
    live_runs = [one_run(desired, devices, LIVE_RATE) for _ in range(RUNS)]
    live = [r for run in live_runs for r in run.resyncs]
    problems = [p for r in [*runs, *live_runs] for p in r.problems]
    print(
        f"apply: N={N} streams to the MediaMTX emulator over HTTP "
        f"({RUNS} runs, fresh emulator each, {RESYNCS} converged resyncs per run)"
    )
    print(
        f"  cold apply N={N}: median {cold:.2f} s ({cold / N * 1e3:.2f} ms/stream); "
        f"{first.cold_calls.writes} writes (= {first.cold_changes} changes), "
        f"{first.cold_calls.reads} reads, all list pages [{first.cold_calls.describe()}]"
    )
    print(
        f"  converged resync N={N}, MediaMTX quiet: median {wall * 1e3:.0f} ms wall; "
        f"{calls.writes} writes, {calls.reads} requests, all list pages [{calls.describe()}]"
    )
    print(
        f"  converged resync CPU, camctl's thread: median {cpu * 1e3:.0f} ms "
        f"({cpu / N * 1e6:.0f} µs/stream; target < {CPU_TARGET * 1e3:.0f} ms: "
        f"{verdict(cpu < CPU_TARGET, 'apply: converged resync CPU')}), "
        f"of which planning {plan_cpu * 1e3:.0f} ms, the rest the client reading "
        f"{calls.list_pages} pages"
    )
    print(
        f"  converged resync CPU, whole process (time.process_time, the emulator included): "
        f"median {process_cpu * 1e3:.0f} ms"
    )
    live_cpu = statistics.median(r.cpu_camctl for r in live)
    live_plan = statistics.median(r.cpu_plan for r in live)
    print(
        f"  converged resync N={N}, MediaMTX live ({LIVE_RATE * 8 / 1e6:g} Mbit/s a path): "
        f"{live[0].calls.writes} writes, {live[0].calls.reads} requests "
        f"[{live[0].calls.describe()}]; CPU, camctl's thread: median {live_cpu * 1e3:.0f} ms, "
        f"of which planning {live_plan * 1e3:.0f} ms (the runtime list decoded again, every "
        "Stream's live figures new)"
    )
    print(f"  cold apply / converged resync wall time = {cold / wall:.1f}")
    print(
        "  API calls: one write per change, only list pages read, no write when converged: "
        f"{verdict(not problems, 'apply: API calls')}{''.join(f'; {p}' for p in problems[:3])}"
    )


if __name__ == "__main__":
    raise SystemExit(run(main))
