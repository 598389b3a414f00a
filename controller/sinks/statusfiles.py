"""Status as files: one JSON document per resource under the state directory, and the
controller's health, from every pass's report.

Written atomically and only when it changed, read back by `camctl status`. Not forced to
the disk (two fsyncs a file, which on a busy disk take longer than the rest of the pass, and
the Kubernetes statuses wait for them): a power cut may lose the last seconds of them, and
a controller's first pass writes every status anew. Only the view, which remembers the
device nodes the last run's files name, may then remember an older one. They live in
the state directory, outside the watched tree, so writing them never wakes the loop. A
change of the live figures alone (bytes, bitrate, readers: they move at every pass while
video flows) is written at most every `COUNTER_INTERVAL` seconds; the view shows them live.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.api.kinds import API_VERSION, KINDS, Ref, Status
from controller.kit.redact import redact
from controller.reconcile.inventory import write_atomic
from controller.reconcile.report import Report, SinkError

CONTROLLER = "controller.json"
# Status fields that move with the video, and the least time between two writes of a
# status in which nothing else changed.
COUNTERS = frozenset({"readers", "bytes_received", "bitrate", "sample_time", "watchdog"})
COUNTER_INTERVAL = 60.0


class StatusStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "status"
        self._published: dict[Ref, Status] = {}  # the last status written for each resource
        self._written_at: dict[Ref, float] = {}  # time.monotonic() of that write
        self._held: dict[Ref, Status] = {}  # the last status held back: only live figures moved
        self._on_disk: set[Ref] | None = None  # listed once; then kept up to date here

    def path_of(self, key: Ref) -> Path:
        return self.root / key.kind / key.namespace / f"{key.name}.json"

    async def publish(self, report: Report) -> None:
        """Sink: the statuses that changed, and the controller's health."""
        health = {
            "apiVersion": API_VERSION,
            "kind": "Controller",
            "metadata": {"name": report.settings.node_name or "camctl"},
            "status": report.health.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        try:
            self.write(report.statuses)
            self.publish_controller(health)
        except OSError as exc:
            raise SinkError(f"cannot write the status files: {exc}") from exc

    def write(self, statuses: Mapping[Ref, Status]) -> int:
        """Write the statuses that changed, remove those of resources that are gone."""
        written = 0
        if self._on_disk is None:
            self._on_disk = set(self._stored())
        for key, status in statuses.items():
            if self._unchanged(key, status):
                continue
            document = {
                "apiVersion": API_VERSION,
                "kind": key.kind,
                "metadata": {"name": key.name, "namespace": key.namespace},
                "status": status.model_dump(mode="json", by_alias=True, exclude_none=True),
            }
            # On failure, tried again next pass.
            write_atomic(self.path_of(key), redact(document), durable=False)
            self._published[key] = status  # planned statuses are never changed afterwards
            self._written_at[key] = time.monotonic()
            self._held.pop(key, None)
            self._on_disk.add(key)
            written += 1
        for key in self._on_disk - statuses.keys():
            self.path_of(key).unlink(missing_ok=True)
            self._published.pop(key, None)
            self._written_at.pop(key, None)
            self._held.pop(key, None)
            self._on_disk.discard(key)
        return written

    def _unchanged(self, key: Ref, status: Status) -> bool:
        """Whether the file stays as it is: the status is the one written, equal to it, or
        differs from it only in live figures written lately. Such a status is remembered:
        on a quiet pass it is the very same object, and is not compared again."""
        published = self._published.get(key)
        if published is None:
            return False
        if published is status:
            return True
        lately = time.monotonic() - self._written_at[key] < COUNTER_INTERVAL
        if lately and self._held.get(key) is status:
            return True
        if published == status:  # equal models dump to equal documents
            return True
        if lately and _figures_only(published, status):
            self._held[key] = status
            return True
        return False

    def publish_controller(self, health: Mapping[str, Any]) -> None:
        write_atomic(self.root / CONTROLLER, dict(health), durable=False)

    def _stored(self) -> list[Ref]:
        return [
            Ref(kind, path.parent.name, path.stem)
            for kind in KINDS
            for path in sorted((self.root / kind).glob("*/*.json"))
        ]

    def read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The controller's health (its node and the fields of `Health`, as the view's
        `controller.status` has them) and every resource's status document, as written."""
        controller = _read_json(self.root / CONTROLLER)
        resources = [_read_json(self.path_of(key)) for key in self._stored()]
        health = None
        if controller is not None:
            meta, status = controller.get("metadata"), controller.get("status")
            node = meta.get("name") if isinstance(meta, dict) else None
            health = {"node": node, **(status if isinstance(status, dict) else {})}
        return health, [r for r in resources if r is not None]


def _figures_only(published: Status, status: Status) -> bool:
    """Whether the two differ in live figures only."""
    return type(published) is type(status) and all(
        getattr(published, f) == getattr(status, f)
        for f in type(status).model_fields
        if f not in COUNTERS
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    """A status document this camctl wrote; one of another API version (a newer camctl's,
    before a rollback) is not misread: it is left out until rewritten."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("apiVersion") == API_VERSION else None
