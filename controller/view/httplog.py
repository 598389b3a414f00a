"""What aiohttp logs about the view's clients, made safe and small.

aiohttp logs a request it cannot parse with the parser's message, which quotes the raw
request line or header (an `Authorization` header with its token included), plus a
traceback; its WebSocket code logs the subprotocols a client offered (where some clients
put their token). Every such record passes `Quiet`: it keeps its format string and the
exception's class and place, and loses what came from the request: arguments other than
numbers become `<hidden>`, the exception's text and traceback are dropped. Each kind of
record (its format string) is logged at most once a minute; the next line says how many
were left out, so a client sending garbage in a loop cannot flood the log.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable

HIDDEN = "<hidden>"
EVERY = 60.0  # seconds between two lines of one kind
HTTP_LOG = logging.getLogger("camctl.view.http")  # handed to aiohttp's protocol
# aiohttp's module-wide loggers that quote what a client sent to the view (it reads no cookie)
AIOHTTP_LOGS = ("aiohttp.websocket",)


class Throttle:
    """The first event of a kind is told, later ones are counted; told again after `every`."""

    def __init__(self, every: float = EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self._told: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def due(self, kind: str) -> int | None:
        """None while `kind` is held back; else how many were held back since last told."""
        now = self.clock()
        if now - self._told.get(kind, float("-inf")) < self.every:
            self._held[kind] = self._held.get(kind, 0) + 1
            return None
        self._told[kind] = now
        return self._held.pop(kind, 0)


class Quiet(logging.Filter):
    """Rewrites a record so that nothing from the request is in it, or holds it back."""

    def __init__(self, throttle: Throttle | None = None) -> None:
        super().__init__()
        self.throttle = throttle or Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        held = self.throttle.due(f"{record.name}:{record.msg}")
        if held is None:
            return False
        record.args = _hidden(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg}: {_described(record.exc_info[1])}"
        record.exc_info = record.exc_text = None
        record.stack_info = None
        if held:
            record.msg = f"{record.msg} ({held} more like it not logged)"
        return True


def _hidden(args: object) -> tuple[object, ...] | dict[str, object]:
    if isinstance(args, dict):
        return {key: _kept(value) for key, value in args.items()}
    return tuple(_kept(arg) for arg in args) if isinstance(args, tuple) else ()


def _kept(value: object) -> object:
    return value if isinstance(value, int | float) or value is None else HIDDEN


def _described(exc: BaseException) -> str:
    """The class and innermost place of an exception: never its text."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def install() -> None:
    """Put `Quiet` on the view's HTTP logger and on aiohttp's request-quoting loggers."""
    for name in ("camctl.view.http", *AIOHTTP_LOGS):
        logger = logging.getLogger(name)
        if not any(isinstance(f, Quiet) for f in logger.filters):
            logger.addFilter(Quiet())
