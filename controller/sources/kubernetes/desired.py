"""The store as desired state for one pass: which objects are this node's, and what they
declare, through the same `assemble` as files.

Pure: `KubernetesSource.load()` calls it once kopf has listed every kind, and keeps the
`Pass` it fills for the `publish()` that ends the same pass. An object whose spec is invalid
keeps its last valid spec in force or, without one, holds its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from controller.api.desired import AnyResource, Desired, Rejection, assemble
from controller.api.kinds import Ref
from controller.api.loading import LoadError
from controller.api.ownership import Owner
from controller.sources.kubernetes.store import Entry, Store, origin_of


@dataclass(frozen=True)
class ObjectError(LoadError):
    """A problem of one object: `Stream/front-door: spec.video.fps: message`."""

    def __str__(self) -> str:
        return ": ".join(p for p in (self.subject, self.field, self.message) if p)


def object_error(key: Ref, where: str, message: str) -> ObjectError:
    return ObjectError(origin_of(key), 0, 0, str(key), where, message)


def api_error(message: str) -> ObjectError:
    return ObjectError("kubernetes", 0, 0, "Kubernetes API", "", message)


@dataclass
class Pass:
    """What one `load()` decided, kept for the `publish()` that ends the same pass."""

    complete: bool = False  # made from a whole store (after kopf listed every kind)
    mine: dict[Ref, Entry] = field(default_factory=dict)


def owned(store: Store, node: str, claim_unassigned: bool) -> dict[Ref, Entry]:
    """The objects this node's controller owns (see the package docstring)."""
    mine = {e.key: e for e in store.of_kind("Camera") if _claims(e, node, claim_unassigned)}
    for entry in store.of_kind("Stream"):
        camera = Ref("Camera", entry.key.namespace, str(entry.spec.get("camera")))
        # A Stream whose Camera is gone stays with the node its status says holds the path.
        gone = camera not in store.entries
        if entry.status.get("node") == node if gone else camera in mine:
            mine[entry.key] = entry
    for entry in store.of_kind("Recording"):
        if Ref("Stream", entry.key.namespace, str(entry.spec.get("stream"))) in mine:
            mine[entry.key] = entry
    return mine


def _claims(camera: Entry, node: str, claim_unassigned: bool) -> bool:
    assigned = camera.spec.get("node")
    if isinstance(assigned, str):
        return assigned == node
    return claim_unassigned


def _recording_of_any(entry: Entry, streams: set[Ref]) -> bool:
    stream = Ref("Stream", entry.key.namespace, str(entry.spec.get("stream")))
    return entry.key.kind == "Recording" and stream in streams


def read(store: Store, view: Pass, node: str) -> tuple[Desired, list[LoadError]]:
    """The desired state of the objects in `view.mine`, with why those that cannot be
    planned cannot (the planner gives them their statuses), and the paths their statuses
    say `node` owns."""
    pairs: list[tuple[AnyResource, str]] = []
    rejected: dict[Ref, Rejection] = {}
    errors: list[LoadError] = []
    going = {key for key, entry in view.mine.items() if entry.deleting}
    for key, entry in view.mine.items():
        if entry.deleting or _recording_of_any(entry, going):
            continue  # its path goes (the finalizer waits for that), its Recording with it
        resource = store.in_force(entry)
        if entry.errors:
            text = "; ".join(f"{f}: {m}" for f, m in entry.errors)
            rejected[key] = Rejection("InvalidSpec", text, entry.meta.get("generation"))
            note = "; its last valid spec stays in force" if resource is not None else ""
            errors += [object_error(key, f, m + note) for f, m in entry.errors]
        if resource is not None:
            pairs.append((resource, origin_of(key)))
    desired, problems = assemble(pairs, rejected=rejected, clean=not errors)
    errors += [object_error(p.ref, p.field, p.message) for p in problems]
    recorded = {
        str(entry.status["path"]): Owner(str(key), origin_of(key))
        for key, entry in view.mine.items()
        if key.kind == "Stream" and entry.status.get("node") == node and entry.status.get("path")
    }
    return replace(desired, recorded=recorded), errors
