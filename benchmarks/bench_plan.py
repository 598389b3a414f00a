"""Planning N streams against N converged paths: median time, and how it grows with N.

Each size is timed twice: as the product runs, and with the cyclic garbage collector paused,
which tells the planner's own work from CPython's full collections. Those come every ~85,000
net new objects and walk the whole heap, so their share grows with N twice over.
"""

from __future__ import annotations

import gc
import statistics
import time
from datetime import UTC, datetime

from benchmarks.targets import run
from benchmarks.world import world
from controller.api.settings import Settings
from controller.reconcile.plan import plan

SIZES = (250, 500, 1000, 2000)
REPEATS = 15


def converged(n: int) -> tuple[float, float, int]:
    """Median seconds with the collector running and paused, and the actions planned."""
    desired, devices = world(n)
    now = datetime.now(UTC)
    first = plan(desired, devices, {}, {}, Settings(), now)
    paths = {a.path: a.config.copy() for a in first.actions}
    medians = []
    for paused in (False, True):
        samples = []
        for _ in range(REPEATS):
            if paused:
                gc.disable()
            try:
                start = time.perf_counter()
                result = plan(desired, devices, paths, first.inventory, Settings(), now)
                samples.append(time.perf_counter() - start)
            finally:
                gc.enable()
        medians.append(statistics.median(samples))
    return medians[0], medians[1], len(result.actions)


def main() -> None:
    print("plan: N streams against N converged paths (median of", REPEATS, "runs)")
    medians, paused = {}, {}
    for n in SIZES:
        medians[n], paused[n], actions = converged(n)
        per_stream = medians[n] / n * 1e6
        print(
            f"  N={n:5d}  median {medians[n] * 1000:7.1f} ms  {per_stream:6.1f} µs/stream  "
            f"(collector paused {paused[n] * 1000:6.1f} ms)  {actions=}"
        )
    ratio, paused_ratio = medians[2000] / medians[1000], paused[2000] / paused[1000]
    print(
        f"  time(2000) / time(1000) = {ratio:.2f} (2.0 is linear); "
        f"with the collector paused {paused_ratio:.2f}"
    )


if __name__ == "__main__":
    raise SystemExit(run(main))
