"""Run every benchmark and print medians: `make bench`.

Exit status 0 when every target was met, 1 when any was NOT met (benchmarks/targets.py); a
benchmark that cannot finish is one NOT met, and the rest still run. The udev measurement of
bench_loop needs umockdev's preload, so run this as `umockdev-wrapper python -m benchmarks`;
without it that measurement is refused (NOT met).
"""

from __future__ import annotations

from benchmarks import (
    bench_apply,
    bench_idle,
    bench_kubernetes,
    bench_loop,
    bench_modes,
    bench_plan,
    bench_recordings,
    bench_view,
)
from benchmarks.targets import run

raise SystemExit(
    run(
        bench_plan.main,
        bench_apply.main,
        bench_loop.main,
        bench_modes.main,
        bench_idle.main,
        bench_view.main,
        bench_recordings.main,
        bench_kubernetes.main,
    )
)
