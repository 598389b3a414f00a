"""Run every benchmark and print medians: `make bench`.

The udev measurement of bench_loop needs umockdev's preload, so run this as
`umockdev-wrapper python -m benchmarks`; without it that measurement is refused, the others
still run, and the exit status is 1.
"""

from __future__ import annotations

from benchmarks import (
    bench_apply,
    bench_idle,
    bench_kubernetes,
    bench_loop,
    bench_plan,
    bench_recordings,
    bench_view,
)


def main() -> int:
    bench_plan.main()
    bench_apply.main()
    complete = bench_loop.main()
    bench_idle.main()
    bench_view.main()
    bench_recordings.main()
    bench_kubernetes.main()
    return 0 if complete else 1


raise SystemExit(main())
