"""The store: every Camera, Stream and Recording as kopf last reported it, parsed.

kopf's index handlers put bodies here, even during its initial listing, and `load()`
reads them. A revision counts only the changes the planner depends on, so status-only
updates (mostly camctl's own writes coming back through the watch) cause no replanning.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.api.desired import AnyResource
from controller.api.kinds import Ref, parse_resource
from controller.api.loading import validation_message


def key_of(kind: str, body: Mapping[str, Any]) -> Ref:
    meta = body.get("metadata") or {}
    return Ref(kind, str(meta.get("namespace") or "default"), str(meta.get("name")))


def origin_of(key: Ref) -> str:
    """The source name of one object, as the inventory knows it."""
    return f"kubernetes:{key.kind}/{key.namespace}/{key.name}"


@dataclass
class Entry:
    """One object as last seen: its raw body and its spec, parsed (None when invalid)."""

    key: Ref
    body: dict[str, Any]
    resource: AnyResource | None
    errors: list[tuple[str, str]]  # (field, message) of the current spec
    seen: float = field(default_factory=time.monotonic)

    @property
    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.body.get("metadata") or {}
        return meta

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def status(self) -> dict[str, Any]:
        status = self.body.get("status")
        return status if isinstance(status, dict) else {}

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    @property
    def finalizers(self) -> list[str]:
        return list(self.meta.get("finalizers") or [])

    @property
    def essence(self) -> str:
        """What the planner depends on: everything but status and bookkeeping."""
        keep = ("labels", "annotations", "generation", "deletionTimestamp", "finalizers")
        meta = {k: self.meta.get(k) for k in keep}
        return json.dumps([meta, self.body.get("spec")], sort_keys=True, default=str)

    def refresh(self, answer: Mapping[str, Any]) -> None:
        """Take what a write changed from its answer, which may be newer than the watch has
        told yet; a newer spec is left for the watch to bring (and to be parsed)."""
        meta = answer.get("metadata") or {}
        if not meta or meta.get("generation") != self.meta.get("generation"):
            return
        self.body["status"] = copy.deepcopy(answer.get("status"))
        for name in ("resourceVersion", "finalizers"):
            self.meta.pop(name, None)
            if meta.get(name) is not None:
                self.meta[name] = copy.deepcopy(meta[name])


def _document(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object as a camctl document: what files hold, and nothing Kubernetes adds."""
    meta = body.get("metadata") or {}
    keep = ("name", "namespace", "labels", "annotations", "generation")
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in keep if meta.get(k) is not None},
        "spec": body.get("spec"),
    }


def _parse(body: Mapping[str, Any]) -> tuple[AnyResource | None, list[tuple[str, str]]]:
    try:
        return parse_resource(_document(body)), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"][1:])  # [0] is the union's tag
            problems.append((where, validation_message(err)))
        return None, problems


class Store:
    """Every Camera, Stream and Recording kopf reported, by identity; bumps a revision
    whenever something the planner depends on changes (not on status-only updates)."""

    def __init__(self) -> None:
        self.entries: dict[Ref, Entry] = {}
        self.last_good: dict[Ref, AnyResource] = {}
        self.changed: set[Ref] = set()  # changed since their event handler last ran
        self.revision = 0

    def put(self, kind: str, body: Mapping[str, Any]) -> tuple[Entry, bool]:
        """Record a body; True when its essence changed."""
        key = key_of(kind, body)
        raw = copy.deepcopy(dict(body))
        old = self.entries.get(key)
        if old is not None and old.essence == Entry(key, raw, None, []).essence:
            old.body, old.seen = raw, time.monotonic()
            return old, False
        resource, errors = _parse(raw)
        entry = self.entries[key] = Entry(key, raw, resource, errors)
        if resource is not None:
            self.last_good[key] = resource
        self.changed.add(key)
        self.revision += 1
        return entry, True

    def drop(self, key: Ref) -> None:
        if self.entries.pop(key, None) is not None:
            self.last_good.pop(key, None)
            self.revision += 1

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for k, e in sorted(self.entries.items()) if k.kind == kind]

    def in_force(self, entry: Entry) -> AnyResource | None:
        """The spec that counts: the current one or, while that is invalid, the last valid."""
        return entry.resource or self.last_good.get(entry.key)
