"""The benchmarks' targets: each is met or NOT met, printed beside the numbers it judges.

A benchmark never ends the run: a measurement that cannot finish (a wait that runs out on a
busy machine, a tool that fails) prints what it got and counts as a target NOT met, and the
next measurement runs. The exit status of `make bench` (and of `python -m benchmarks.NAME`)
is 0 only when every target was met, so CI or a person can gate on it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_missed: list[str] = []


def verdict(met: bool, what: str) -> str:
    """ "met" or "NOT met"; a miss is remembered for the exit status."""
    if not met:
        _missed.append(what)
    return "met" if met else "NOT met"


def missed(what: str, why: str) -> None:
    """A target that could not be judged: printed, and counted as NOT met."""
    print(f"  {what}: NOT met: {why}")
    _missed.append(what)


@contextmanager
def measuring(what: str) -> Iterator[None]:
    """Run one measurement; if it raises, say so as a target NOT met and go on."""
    try:
        yield
    except Exception as error:  # any failure of one measurement: the others still run
        missed(what, f"stopped by {type(error).__name__}: {error}")


def run(*benchmarks: Callable[[], object]) -> int:
    """Run the benchmarks one after the other; 1 if any target was NOT met, else 0."""
    _missed.clear()
    for benchmark in benchmarks:
        with measuring(benchmark.__module__.rsplit(".", 1)[-1]):
            benchmark()
        sys.stdout.flush()
    if _missed:
        print(f"targets NOT met ({len(_missed)}): {'; '.join(_missed)}")
        return 1
    print("every target met")
    return 0
