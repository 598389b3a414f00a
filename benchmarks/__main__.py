"""Run every benchmark and print medians: `make bench`."""

from __future__ import annotations

from benchmarks import bench_apply, bench_plan


def main() -> None:
    bench_plan.main()
    bench_apply.main()


main()
