"""What changed between two snapshots, as Kubernetes-style watch events, and their log.

Resources, devices and the controller itself produce ADDED, MODIFIED and DELETED events.
The controller's pass counters change on every pass and are left out of the comparison,
so an idle controller sends nothing.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.view.selectors import Selector
from controller.view.snapshot import Doc, Snapshot

MAX_EVENTS = 1000
VOLATILE = frozenset({"passes", "lastPass", "lastSuccess", "lastReasons"})


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    namespace: str | None
    name: str
    data: Doc  # the answer shape (models.Event)
    wire: bytes  # the same, serialised once for every subscriber

    def labels(self) -> Mapping[str, str]:
        obj = self.data.get("object") or {}
        labels: Mapping[str, str] = obj.get("metadata", {}).get("labels", {})
        return labels


@dataclass(frozen=True)
class Filter:
    """Which events a subscription wants."""

    kinds: frozenset[str] | None = None
    namespace: str | None = None
    selector: Selector | None = None

    def wants(self, event: Event) -> bool:
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        if self.namespace is not None and event.namespace != self.namespace:
            return False
        return self.selector is None or self.selector.matches(event.labels())


Change = tuple[str, str, str | None, str, Doc | None]  # type, kind, namespace, name, object


def changes(old: Snapshot, new: Snapshot) -> list[Change]:
    """Every difference that a watcher would want to hear about."""
    out: list[Change] = []
    for key in sorted(old.by_ref.keys() | new.by_ref.keys()):
        before, after = old.by_ref.get(key), new.by_ref.get(key)
        if kind := _type(before, after):
            out.append((kind, key.kind, key.namespace, key.name, after or before))
    devices_before = {d["node"]: d for d in old.devices}
    devices_after = {d["node"]: d for d in new.devices}
    for node in sorted(devices_before.keys() | devices_after.keys()):
        before, after = devices_before.get(node), devices_after.get(node)
        if kind := _type(before, after):
            out.append((kind, "Device", None, node, after or before))
    if _stable(old.controller) != _stable(new.controller):
        name = new.controller.get("node") or "camctl"
        out.append(
            ("ADDED" if not old.ready else "MODIFIED", "Controller", None, name, new.controller)
        )
    return out


def _type(before: Doc | None, after: Doc | None) -> str | None:
    if before is None:
        return "ADDED"
    if after is None:
        return "DELETED"
    return "MODIFIED" if before != after else None


def _stable(controller: Doc) -> Doc:
    return {k: v for k, v in controller.items() if k not in VOLATILE}


class EventLog:
    """The last MAX_EVENTS events, numbered from 1, for `events.list` and subscribers."""

    def __init__(self, size: int = MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self.latest = 0

    def record(self, found: list[Change]) -> list[Event]:
        time = datetime.now(UTC).isoformat(timespec="milliseconds")
        new = []
        for type_, kind, namespace, name, obj in found:
            self.latest += 1
            data = {
                "seq": self.latest,
                "time": time,
                "type": type_,
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "object": obj,
            }
            event = Event(self.latest, kind, namespace, name, data, _dumps(data))
            new.append(event)
        self._events.extend(new)
        return new

    @property
    def oldest(self) -> int:
        return self._events[0].seq if self._events else self.latest + 1

    def since(self, seq: int) -> Iterator[Event]:
        return (e for e in self._events if e.seq > seq)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
