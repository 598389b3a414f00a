"""The view's side of the controller: a sink that keeps the current snapshot.

After every pass the controller hands it the pass's report; the view then takes a snapshot,
works out the events, drops the cached answers of the old version and tells every
listener (WebSocket sessions) what changed. Listeners must not block: they queue.

Answers are cached per snapshot version and parameters, the least recently used given up
first: at most MAX_CACHED answers and MAX_CACHED_BYTES bytes, whatever clients ask.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from controller.api.settings import Settings
from controller.reconcile.report import Report
from controller.view import compat_cameras
from controller.view.events import Event as ViewEvent
from controller.view.events import EventLog, changes
from controller.view.snapshot import Doc, Documents, Snapshot, take

MAX_CACHED = 1024  # answers kept for the current snapshot version
MAX_CACHED_BYTES = 8 * 1024 * 1024  # their bytes, keys included
MAX_ANSWER_BYTES = MAX_CACHED_BYTES // 4  # a bigger answer is serialised each time


class Listener(Protocol):
    def notify(self, events: Sequence[ViewEvent], compat_notes: Sequence[bytes]) -> None: ...


class ViewState:
    """`remembered`: the resources as the last run's status files show them, so that an
    absent camera keeps the device path the old service's clients know it by."""

    def __init__(self, settings: Settings, remembered: Sequence[Doc] = ()) -> None:
        self.settings = settings
        self.snapshot = Snapshot()
        self.log = EventLog()
        self.listeners: set[Listener] = set()
        self.published_at = 0.0  # perf_counter() of the last publish, for the benchmark
        self._cache: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self.cached_bytes = 0
        self._documents = Documents()
        # What the old service's clients were told last; before the first pass, the device
        # paths the last run's status files name (an absent camera keeps its path).
        self.compat = compat_cameras.remembered(remembered)

    async def publish(self, report: Report) -> None:
        """Sink: called by the controller after every pass."""
        self.refresh(report)

    def refresh(self, report: Report) -> None:
        self.published_at = time.perf_counter()
        self.settings = report.settings
        old = self.snapshot
        ready = old.ready or report.outcome is not None
        new = take(report, old.version + 1, self._documents, ready)
        events = self.log.record(changes(old, new))
        seen = compat_cameras.seen(new, self.compat)
        notes = compat_cameras.notifications(self.compat, seen)
        self.snapshot, self.compat = new, seen
        self._cache.clear()
        self.cached_bytes = 0
        for listener in list(self.listeners):
            listener.notify(events, notes)

    def cached(self, key: tuple[str, bytes]) -> bytes | None:
        data = self._cache.get(key)
        if data is not None:
            self._cache.move_to_end(key)
        return data

    def remember(self, key: tuple[str, bytes], data: bytes) -> bytes:
        size = _size(key, data)
        if size > MAX_ANSWER_BYTES or key in self._cache:
            return data
        while self._cache and (
            len(self._cache) >= MAX_CACHED or self.cached_bytes + size > MAX_CACHED_BYTES
        ):
            self.cached_bytes -= _size(*self._cache.popitem(last=False))
        self._cache[key] = data
        self.cached_bytes += size
        return data

    @property
    def cached_answers(self) -> int:
        return len(self._cache)


def _size(key: tuple[str, bytes], data: bytes) -> int:
    return len(key[0]) + len(key[1]) + len(data)
