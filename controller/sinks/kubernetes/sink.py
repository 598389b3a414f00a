"""The Kubernetes sink: after each pass, this node's writes to the API, in order.

Finalizers on the Streams it has come to own, the statuses that changed (those whose Ready
condition changes first: what people and `kubectl wait` wait for), then the Events (of those
Ready changes, and of the pass's MediaMTX writes: Events are for people, so no status waits
on them), and last the finalizers of Streams whose path is gone. A pass that
planned nothing (it ran before kopf listed every kind) writes nothing. A write that
conflicts (409) is retried once the watch has the newer version; when the API does not
answer, the whole lot is retried a little later, and health says so meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from controller.api.kinds import Ref, Status
from controller.reconcile.apply import Outcome
from controller.reconcile.report import Report, SinkError
from controller.sinks.kubernetes import events
from controller.sinks.kubernetes.finalizer import finalizer_for, to_add, to_release
from controller.sinks.kubernetes.status import Targets, target
from controller.sources.kubernetes.api import (
    KubeError,
    KubeUnreachable,
    merge_patch,
    object_path,
)
from controller.sources.kubernetes.desired import Pass
from controller.sources.kubernetes.source import KubernetesSource
from controller.sources.kubernetes.store import Entry

log = logging.getLogger("camctl.kubernetes")


class KubernetesSink:
    """Finalizers, statuses and Events for this node's objects (see the module docstring)."""

    def __init__(
        self,
        source: KubernetesSource,
        *,
        conflict_retry: float = 0.5,
        unreachable_retry: float = 5.0,
    ) -> None:
        self.source, self.api, self.store = source, source.api, source.store
        self.node_name = source.node_name
        self.finalizer = finalizer_for(source.node_name)
        self.conflict_retry, self.unreachable_retry = conflict_retry, unreachable_retry
        self.targets = Targets()
        self.api_error: str | None = None  # the last writes failed
        self._published: Outcome | None = None
        self._ready_events: list[tuple[Entry, events.Event]] = []  # of statuses written
        source.status_check = self._needs_pass

    async def publish(self, report: Report) -> None:
        view = self.source.last_pass
        if not view.complete or report.outcome is None:  # the pass planned nothing
            return
        held = {owner.source for owner in report.owned.values()}
        try:
            await self._add_finalizers(view)
            await self._write_statuses(view, report.statuses)
            await self._post_ready_events()
            await self._post_action_events(view, report.outcome)
            await self._release_finalizers(view, held)
        except KubeUnreachable as exc:
            if self.api_error is None:
                log.warning("Kubernetes API unreachable, retrying: %s", exc)
            self.api_error = f"unreachable: {exc}"
            self._retry(self.unreachable_retry, "kubernetes: retry, the API was unreachable")
            raise SinkError(f"Kubernetes API {self.api_error}") from exc
        self.api_error = None

    def _needs_pass(self, entry: Entry) -> str | None:
        """A status-only change the source saw: a pass, if it undid what this sink wrote or
        the API answers again after a failure."""
        if self.targets.overwritten(entry):
            return f"kubernetes: status of {entry.key} changed"
        if self.api_error is not None:
            return "kubernetes: the API answers again"
        return None

    def _retry(self, delay: float, reason: str) -> None:
        asyncio.get_running_loop().call_later(delay, self.source.wake, reason)

    async def _add_finalizers(self, view: Pass) -> None:
        for entry, finalizers in to_add(self.store, view.mine, self.finalizer):
            await self._set_finalizers(entry, finalizers)

    async def _release_finalizers(self, view: Pass, held: set[str]) -> None:
        for entry, finalizers in to_release(self.store, view.mine, held, self.finalizer):
            await self._set_finalizers(entry, finalizers)

    async def _set_finalizers(self, entry: Entry, finalizers: list[str]) -> None:
        patch = {"metadata": {"finalizers": finalizers or None}}
        if (answer := await self._patch(entry, patch, "finalizers")) is not None:
            entry.refresh(answer)

    async def _write_statuses(self, view: Pass, statuses: Mapping[Ref, Status]) -> None:
        self.targets.keep(view.mine)
        due = []
        for key in view.mine:
            entry = self.store.entries.get(key)
            if entry is None or entry.deleting:
                continue
            wanted = target(entry, statuses.get(key))
            if wanted is None:
                continue
            if self.targets.stale(key, wanted, entry.status):
                due.append((entry, wanted, events.ready_change(entry.status, wanted)))
            else:
                self.targets.wanted[key] = wanted
        due.sort(key=lambda write: write[2] is None)  # Ready changes first (a stable sort)
        for entry, wanted, event in due:
            await self._patch_status(entry, wanted, event)

    async def _patch_status(
        self, entry: Entry, wanted: dict[str, Any], event: events.Event | None
    ) -> None:
        patch = {"status": merge_patch(entry.status, wanted)}
        answer = await self._patch(entry, patch, "status", "status")
        if answer is None:
            return
        self.targets.written(entry.key, wanted)
        if event is not None:
            self._ready_events.append((entry, event))
        entry.refresh(answer)

    async def _post_ready_events(self) -> None:
        """The Events of the Ready changes written; one the API did not answer is posted
        with the retry."""
        while self._ready_events:
            entry, event = self._ready_events[0]
            await events.post(self.api, entry, self.node_name, event)
            self._ready_events.pop(0)

    async def _post_action_events(self, view: Pass, outcome: Outcome) -> None:
        if outcome is self._published:
            return
        self._published = outcome
        for entry, result in events.streams_of(outcome.results, self.store, view.mine):
            await events.post(self.api, entry, self.node_name, events.describe(result))

    async def _patch(
        self, entry: Entry, body: dict[str, Any], what: str, subresource: str = ""
    ) -> dict[str, Any] | None:
        """PATCH one object; its answer, or None when the API refused."""
        if version := entry.meta.get("resourceVersion"):  # optimistic concurrency
            body = {**body, "metadata": {**body.get("metadata", {}), "resourceVersion": version}}
        try:
            return await self.api.request("PATCH", object_path(entry.key, subresource), body)
        except KubeError as exc:
            self._refused(entry.key, what, exc)
            return None

    def _refused(self, key: Ref, what: str, exc: KubeError) -> None:
        if exc.status == 404:
            return  # deleted meanwhile: its DELETED event follows
        if exc.status == 409:  # written meanwhile: again once the watch has the new version
            log.info("%s of %s changed meanwhile (409); retrying", what, key)
            self._retry(self.conflict_retry, f"kubernetes: retry {what} of {key}")
            self.targets.wanted.pop(key, None)
            return
        log.error("patching the %s of %s failed: %s", what, key, exc)
