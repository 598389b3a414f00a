"""The view's side of the controller: a status sink that keeps the current snapshot.

After every pass the controller calls `publish`; the view then takes a new snapshot,
works out the events, drops the cached answers of the old version and tells every
listener (WebSocket sessions) what changed. Listeners must not block: they queue.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from controller.api.kinds import Ref, Status
from controller.reconcile.statusfiles import StatusStore
from controller.view import compat_cameras
from controller.view.events import Event as ViewEvent
from controller.view.events import EventLog, changes
from controller.view.snapshot import ControllerLike, Documents, Snapshot, take

MAX_CACHED = 1024


class Listener(Protocol):
    def notify(self, events: Sequence[ViewEvent], compat_notes: Sequence[bytes]) -> None: ...


class ViewState:
    def __init__(self, controller: ControllerLike) -> None:
        self.controller = controller
        self.snapshot = Snapshot()
        self.log = EventLog()
        self.listeners: set[Listener] = set()
        self.published_at = 0.0  # perf_counter() of the last publish, for the benchmark
        self._cache: dict[tuple[str, bytes], bytes] = {}
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
        for listener in list(self.listeners):
            listener.notify(events, notes)

    def cached(self, key: tuple[str, bytes]) -> bytes | None:
        return self._cache.get(key)

    def remember(self, key: tuple[str, bytes], data: bytes) -> bytes:
        if len(self._cache) >= MAX_CACHED:  # many distinct params: start over, stay bounded
            self._cache.clear()
        self._cache[key] = data
        return data
