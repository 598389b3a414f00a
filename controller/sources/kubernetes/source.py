"""`KubernetesSource`: the custom resources as the controller's desired state.

It is a DesiredSource (`fingerprint`, `load`). Its `watch` runs kopf, whose handlers fill the
store and wake the controller on every change the planner depends on, and lists of its own
beside it: kopf says nothing until an object exists, nor about objects deleted while a watch
was lost. What goes back to the API after a pass is the sink's (controller.sinks.kubernetes),
which shares this source's store and API client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from controller.api.credentials import Resolved
from controller.api.desired import Desired
from controller.api.kinds import KINDS, Ref
from controller.api.loading import LoadError, LoadResult
from controller.sources.kubernetes import desired, operator
from controller.sources.kubernetes.api import KubeAPI, KubeError, KubeUnreachable
from controller.sources.kubernetes.operator import Login, default_login
from controller.sources.kubernetes.secrets import Secrets
from controller.sources.kubernetes.store import Entry, Store, key_of

log = logging.getLogger("camctl.kubernetes")


class KubernetesSource:
    """Custom resources in (see the module docstring)."""

    def __init__(
        self,
        node_name: str,
        namespace: str | None = None,
        *,
        claim_unassigned: bool = False,
        login: Login = default_login,
        stop: Callable[[], None] | None = None,
        relist_interval: float = 300.0,
        first_list_after: float = 5.0,
        read_secrets: bool = False,
    ) -> None:
        self.node_name, self.namespace = node_name, namespace
        self.claim_unassigned = claim_unassigned
        self.settings = operator.operator_settings()
        self.store = Store()
        self.synced = False
        self.relist_interval, self.first_list_after = relist_interval, first_list_after
        self.api = KubeAPI(lambda: operator.login_now(self._login, self.settings))
        self._login, self._stop = login, stop
        self._notify: Callable[[str], None] = lambda _: None
        # Whether a status-only change needs a pass (the sink's to say: someone overwrote
        # what it wrote, say), and why.
        self.status_check: Callable[[Entry], str | None] = lambda _: None
        self.last_pass = desired.Pass()  # what the last load decided, for the sink
        self._list_error: str | None = None  # the last list of our own failed
        # Network cameras' Secrets, only when asked to read them (RBAC must allow it).
        self.secrets = Secrets(self.api, lambda r: self._notify(r)) if read_secrets else None

    def wake(self, reason: str) -> None:
        """Ask the controller for a pass (the sink's retries use it too)."""
        self._notify(reason)

    # --- DesiredSource ---------------------------------------------------------------

    @property
    def fingerprint(self) -> Hashable:
        return (self.synced, self.store.revision)

    def load(self) -> LoadResult:
        if not self.synced:  # nothing is known yet: an unclean state removes nothing
            self.last_pass = desired.Pass()
            return LoadResult(Desired(clean=False), self._api_errors())
        mine = desired.owned(self.store, self.node_name, self.claim_unassigned)
        view = self.last_pass = desired.Pass(complete=True, mine=mine)
        state, errors = desired.read(self.store, view, self.node_name)
        return LoadResult(state, self._api_errors() + errors, [])

    def _api_errors(self) -> list[LoadError]:
        error = self._list_error
        return [desired.api_error(error)] if error else []

    # --- CredentialSource -----------------------------------------------------------

    async def resolve(self, state: Desired) -> Mapping[Ref, Resolved]:
        """The credentials of this node's Cameras that name a Secret (--read-secrets)."""
        return await self.secrets.resolve(state) if self.secrets is not None else {}

    # --- The watch ---------------------------------------------------------------------

    async def watch(self, notify: Callable[[str], None]) -> None:
        """Run kopf until cancelled; the controller is woken on every relevant change."""
        self._notify = notify
        on_secret = self.secrets.on_event if self.secrets is not None else None
        handlers = operator.registry(self._login, self._on_body, self._on_event, on_secret)
        try:
            await operator.run(
                handlers, self.settings, self.namespace, self._stop, self._relist_forever
            )
        finally:
            await self.api.close()
        if self._stop is not None:  # kopf gave up on its own: stop, and let a restart retry
            self._stop()
        raise RuntimeError("the Kubernetes watch stopped")

    def _on_body(self, kind: str, body: Mapping[str, Any]) -> None:
        """Index handler: runs first, for every body, even during the initial listing."""
        self.store.put(kind, body)

    def _on_event(self, kind: str, event: Mapping[str, Any]) -> None:
        """Event handler: runs once kopf has listed every kind, so the store is whole."""
        key = key_of(kind, event.get("object") or {})
        if event.get("type") == "DELETED":
            self._forget(key)
            self._notify(f"kubernetes: {key} deleted")
        elif (entry := self.store.entries.get(key)) is not None:
            if key in self.store.changed:
                self.store.changed.discard(key)
                self._notify(f"kubernetes: {key} changed")
            elif (reason := self.status_check(entry)) is not None:
                self._notify(reason)
        if not self.synced:
            self.synced = True
            self._notify("kubernetes: listed")

    def _forget(self, key: Ref) -> None:
        self.store.drop(key)

    async def _relist_forever(self) -> None:
        """Lists of our own, now and then. kopf tells nothing until an object exists, so
        the first says whether there is none; and kopf re-lists after a lost watch but
        never reports the objects deleted meanwhile, so later ones drop those."""
        await asyncio.sleep(self.first_list_after)
        while True:
            try:
                await self.relist()
                self._list_error = None
            except (KubeError, KubeUnreachable) as exc:
                self._list_error = f"cannot list the resources: {exc}"
            except Exception:
                log.exception("listing the resources failed")
            await asyncio.sleep(self.relist_interval if self.synced else self.first_list_after)

    async def relist(self) -> None:
        started, present = time.monotonic(), set()
        for kind in KINDS:
            items = await self.api.list_objects(kind, self.namespace)
            present |= {key_of(kind, item) for item in items}
        if not self.synced:
            if not present:  # nothing declared: an empty store is the whole truth
                self.synced = True
                self._notify("kubernetes: no resources")
            return  # else kopf's events fill the store, then say so
        for key, entry in list(self.store.entries.items()):
            if key not in present and entry.seen < started:
                self._forget(key)
                self._notify(f"kubernetes: {key} is gone")
