"""Planning N streams against N converged paths: median time, and how it grows with N."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from benchmarks.world import world
from controller.reconcile.plan import Settings, plan

SIZES = (250, 500, 1000, 2000)
REPEATS = 15


def converged(n: int) -> tuple[float, int]:
    desired, devices = world(n)
    now = datetime.now(UTC)
    first = plan(desired, devices, {}, {}, Settings(), now)
    paths = {a.path: dict(a.config) for a in first.actions}
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = plan(desired, devices, paths, first.inventory, Settings(), now)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), len(result.actions)


def main() -> None:
    print("plan: N streams against N converged paths (median of", REPEATS, "runs)")
    medians = {}
    for n in SIZES:
        median, actions = converged(n)
        medians[n] = median
        per_stream = median / n * 1e6
        print(
            f"  N={n:5d}  median {median * 1000:7.1f} ms  {per_stream:6.1f} µs/stream  {actions=}"
        )
    ratio = medians[2000] / medians[1000]
    print(f"  time(2000) / time(1000) = {ratio:.2f} (2.0 is linear)")


if __name__ == "__main__":
    main()
