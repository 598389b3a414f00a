"""The view's side of the controller: a status sink that keeps the current snapshot.

After every pass the controller calls `publish`; the view then takes a new snapshot,
works out the events, drops the cached answers of the old version and tells every
listener (WebSocket sessions) what changed. Listeners must not block: they queue.

Answers are cached per snapshot version and parameters, the least recently used given up
first: at most MAX_CACHED answers and MAX_CACHED_BYTES bytes, whatever clients ask.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Protocol

from controller.api.kinds import Ref, Status
from controller.reconcile.statusfiles import StatusStore
from controller.view import compat_cameras
from controller.view.events import Event as ViewEvent
from controller.view.events import EventLog, changes
from controller.view.snapshot import ControllerLike, Documents, Snapshot, take

MAX_CACHED = 1024  # answers kept for the current snapshot version
MAX_CACHED_BYTES = 8 * 1024 * 1024  # their bytes, keys included
MAX_ANSWER_BYTES = MAX_CACHED_BYTES // 4  # a bigger answer is serialised each time


class Listener(Protocol):
    def notify(self, events: Sequence[ViewEvent], compat_notes: Sequence[bytes]) -> None: ...


class ViewState:
    def __init__(self, controller: ControllerLike) -> None:
        self.controller = controller
        self.snapshot = Snapshot()
        self.log = EventLog()
        self.listeners: set[Listener] = set()
        self.published_at = 0.0  # perf_counter() of the last publish, for the benchmark
        self._cache: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self.cached_bytes = 0
        self._documents = Documents()
        # What the old service's clients were told last; before the first pass, the device
        # paths the last run's status files name (an absent camera keeps its path).
        self.compat = compat_cameras.Seen()
        store = getattr(controller, "store", None)
        if controller.outcome is None and isinstance(store, StatusStore):
            self.compat = compat_cameras.remembered(store.read()[1])
        if controller.outcome is not None:  # started after the controller's first pass
            self.refresh()

    async def publish(self, statuses: Mapping[Ref, Status]) -> None:
        """StatusSink: called by the controller after every pass."""
        self.refresh()

    def refresh(self) -> None:
        self.published_at = time.perf_counter()
        old = self.snapshot
        new = take(self.controller, old.version + 1, self._documents)
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
