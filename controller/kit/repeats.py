"""Problems that recur pass after pass, logged once and then counted, not once a pass.

A broken file, an unreachable MediaMTX or a damaged state directory stays so until a
person acts: one line when it starts, a short reminder as it goes on (after 10, 100,
1,000… passes), and one line when it ends. The log stays readable and small.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


class Repeats:
    def __init__(self, log: logging.Logger, level: int = logging.ERROR) -> None:
        self.log, self.level = log, level
        self.counts: dict[str, int] = {}

    def report(self, problems: Iterable[str], **extra: object) -> None:
        """The problems of this pass: the complete list, so that those gone can be told."""
        now: dict[str, int] = {}
        for problem in problems:
            if problem in now:
                continue
            seen = now[problem] = self.counts.get(problem, 0) + 1
            if seen == 1:
                self.log.log(self.level, "%s", problem, extra=extra)
            elif _is_power_of_ten(seen):
                self.log.log(self.level, "still failing (%d times): %s", seen, problem, extra=extra)
        for problem in self.counts.keys() - now.keys():
            self.log.info("resolved: %s", problem, extra=extra)
        self.counts = now


def _is_power_of_ten(n: int) -> bool:
    while n % 10 == 0:
        n //= 10
    return n == 1
