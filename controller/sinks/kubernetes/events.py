"""Kubernetes Events, so that `kubectl describe` tells the story of an object.

The sink posts one for every MediaMTX write made for a Stream (added, updated, deleted,
its publisher restarted by the watchdog, or failed) and one whenever an object's Ready
condition changes. A failed post is logged, not retried: Events are for people, and the
status says the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controller.api.conditions import Condition, find
from controller.api.kinds import API_VERSION, GROUP, Ref, Stream
from controller.kit.redact import redact
from controller.reconcile.apply import Result
from controller.sinks.kubernetes.status import conditions
from controller.sources.kubernetes.api import COMPONENT, KubeAPI, KubeError
from controller.sources.kubernetes.store import Entry, Store

log = logging.getLogger("camctl.kubernetes")

EVENT_REASONS = {
    "add": "PathAdded",
    "patch": "PathUpdated",
    "delete": "PathDeleted",
    "restart": "PublisherRestarted",
}
# Not Ready, yet nothing wrong: Normal Events. A network camera being connected, or pulled
# only while read, is as expected as a path being configured.
QUIET_REASONS = frozenset({"Disabled", "Reconciling", "Connecting", "OnDemand", "Unused"})

Event = tuple[str, str, bool]  # reason, message, warning


async def post(api: KubeAPI, entry: Entry, node: str, event: Event) -> None:
    path = f"/api/v1/namespaces/{entry.key.namespace}/events"
    try:
        await api.request("POST", path, _body(entry, node, *event), "application/json")
    except KubeError as exc:
        log.warning("posting an Event for %s failed: %s", entry.key, exc)


def _body(entry: Entry, node: str, reason: str, message: str, warning: bool) -> dict[str, Any]:
    key, now = entry.key, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{key.name[:230]}.{time.time_ns():x}", "namespace": key.namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": key.kind,
            "name": key.name,
            "namespace": key.namespace,
            **{k: entry.meta[k] for k in ("uid", "resourceVersion") if entry.meta.get(k)},
        },
        "reason": reason,
        "message": redact(message)[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT, "host": node},
        "reportingComponent": f"{GROUP}/{COMPONENT}",
        "reportingInstance": node,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def ready_change(live: Mapping[str, Any], target: Mapping[str, Any]) -> Event | None:
    """The Event for a status write that changes the Ready condition, if it does."""
    new = find(conditions(target), "Ready")
    old = find(conditions(live), "Ready")
    if new is None or (old and _triple(old) == _triple(new)):
        return None
    warning = new.status != "True" and new.reason not in QUIET_REASONS
    return new.reason, new.message or new.reason, warning


def _triple(c: Condition) -> tuple[str, str, str]:
    return c.status, c.reason, c.message


def describe(result: Result) -> Event:
    """The Event for one MediaMTX write."""
    action = result.action
    if result.error is not None:
        return "ApplyFailed", f"{action.op} MediaMTX path {action.path!r}: {result.error}", True
    if action.op == "restart":  # the watchdog's: a warning, as the publisher had hung
        text = f"recreated MediaMTX path {action.path!r}: its publisher had stalled"
        return EVENT_REASONS["restart"], text, True
    fields = f" ({', '.join(sorted(action.diff))})" if action.op == "patch" else ""
    verb = {"add": "added", "patch": "updated", "delete": "deleted"}[action.op]
    return EVENT_REASONS[action.op], f"{verb} MediaMTX path {action.path!r}{fields}", False


def streams_of(
    results: list[Result], store: Store, mine: Mapping[Ref, Entry]
) -> list[tuple[Entry, Result]]:
    """The Stream each MediaMTX write was for; a delete's is the Stream being deleted
    (found by its path, with the paths of this node's Streams worked out once)."""
    paths: dict[str | None, Ref] | None = None
    found = []
    for result in results:
        key = result.action.stream
        if key is None:
            if paths is None:
                paths = {_path_of(store, e): k for k, e in mine.items()}
            key = paths.get(result.action.path)
        if key is not None and (entry := store.entries.get(key)) is not None:
            found.append((entry, result))
    return found


def _path_of(store: Store, entry: Entry) -> str | None:
    resource = store.in_force(entry)
    return resource.path if isinstance(resource, Stream) else None
