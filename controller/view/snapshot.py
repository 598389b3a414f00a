"""An immutable picture of what the controller last saw and decided, in answer shapes.

Built once per pass from its report (documents, devices, MediaMTX's paths, statuses, health,
the recorded segments the pass found); every answer of the view is
read from one of these, so a request never does I/O and never sees half of a pass. Everything
is redacted here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.api.credentials import Resolved
from controller.api.desired import AnyResource, Desired
from controller.api.device import Device
from controller.api.kinds import API_VERSION, KINDS, CameraStatus, Ref, Status
from controller.api.mediamtx import PathConfigs, Runtime
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.kit.redact import redact
from controller.reconcile.apply import project
from controller.reconcile.render import MANAGED_FIELDS
from controller.reconcile.report import Report
from controller.view.recorded import Recorded, playback_base

Doc = dict[str, Any]


@dataclass(frozen=True)
class PlanInputs:
    """The planner's inputs as the last pass left them: `plan.get` replans from these."""

    desired: Desired
    devices: Sequence[Device]
    paths: PathConfigs | None
    owned: Mapping[str, Owner]
    settings: Settings
    statuses: Mapping[Ref, Status]
    runtime: Runtime
    credentials: Mapping[Ref, Resolved] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Snapshot:
    version: int = 0
    ready: bool = False
    docs: Mapping[str, list[Doc]] = field(default_factory=lambda: {k: [] for k in KINDS})
    by_ref: Mapping[Ref, Doc] = field(default_factory=dict)
    nodes: Mapping[Ref, str | None] = field(default_factory=dict)
    devices: list[Doc] = field(default_factory=list)
    paths: list[Doc] = field(default_factory=list)
    runtime: Runtime = field(default_factory=dict)
    controller: Doc = field(default_factory=dict)
    planning: PlanInputs | None = None
    recorded: Recorded = field(default_factory=Recorded)


class Documents:
    """Resource documents, reused while a resource and its status stay the same.

    The file source hands back the very same resource objects for unchanged files, and
    statuses compare equal when nothing changed: a pass over 1,000 converged resources
    then serialises and redacts nothing again.
    """

    def __init__(self) -> None:
        self._made: dict[Ref, tuple[AnyResource, Status | None, Doc]] = {}

    def build(self, desired: Desired, statuses: Mapping[Ref, Status]) -> dict[str, list[Doc]]:
        made: dict[Ref, tuple[AnyResource, Status | None, Doc]] = {}
        out: dict[str, list[Doc]] = {}
        groups: list[tuple[str, Mapping[Ref, AnyResource]]] = [
            ("Camera", desired.cameras),
            ("Stream", desired.streams),
            ("Recording", desired.recordings),
        ]
        for kind, resources in groups:
            out[kind] = []
            for key, resource in sorted(resources.items()):
                status = statuses.get(key)
                before = self._made.get(key)
                if before and before[0] is resource and before[1] == status:
                    doc = before[2]
                else:
                    doc = document(resource, status)
                made[key] = (resource, status, doc)
                out[kind].append(doc)
        self._made = made
        return out


def take(
    report: Report, version: int, documents: Documents | None = None, ready: bool = True
) -> Snapshot:
    """A pass's report as a new snapshot (cheap: no I/O, no planning). `ready`: some pass
    has finished its plan since the view started (a report without an outcome, from a pass
    that could not plan, only updates the health)."""
    outcome = report.outcome
    desired = report.loaded.desired
    docs = (documents or Documents()).build(desired, report.statuses)
    by_ref = {ref_of(d): d for kind_docs in docs.values() for d in kind_docs}
    planning = _plan_inputs(report)
    return Snapshot(
        version=version,
        ready=ready,
        docs=docs,
        by_ref=by_ref,
        nodes=_nodes(desired),
        devices=_devices(report.devices, report.statuses),
        paths=_paths(planning) if planning else [],
        runtime=outcome.observed.runtime if outcome else {},
        controller=_controller(report, docs),
        planning=planning,
        # The pass's own mapping of segment tuples: referenced, never copied.
        recorded=Recorded(
            outcome.observed.recordings if outcome else {}, playback_base(report.settings)
        ),
    )


def document(resource: AnyResource, status: Status | None) -> Doc:
    """A resource as `kubectl get -o json` would show it: metadata, spec, status."""
    doc: Doc = {
        "apiVersion": API_VERSION,
        "kind": resource.kind,
        "metadata": resource.metadata.model_dump(mode="json", by_alias=True, exclude_none=True),
        "spec": resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    if status is not None:
        doc["status"] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    redacted: Doc = redact(doc)
    return redacted


def ref_of(doc: Doc) -> Ref:
    return Ref(doc["kind"], doc["metadata"]["namespace"], doc["metadata"]["name"])


def _nodes(desired: Desired) -> dict[Ref, str | None]:
    """The node each resource belongs to: its Camera's spec.node."""
    nodes: dict[Ref, str | None] = {key: c.spec.node for key, c in desired.cameras.items()}
    for key, stream in desired.streams.items():
        camera = desired.camera_of(stream)
        nodes[key] = camera.spec.node if camera else None
    for key, recording in desired.recordings.items():
        nodes[key] = nodes.get(Ref("Stream", key.namespace, recording.spec.stream))
    return nodes


def _devices(devices: Sequence[Device], statuses: Mapping[Ref, Status]) -> list[Doc]:
    claims = {
        status.device.node: str(key)
        for key, status in statuses.items()
        if isinstance(status, CameraStatus) and status.device is not None
    }
    out = []
    for d in sorted(devices, key=lambda d: d.node):
        item = d.model_dump(mode="json", by_alias=True, exclude_none=True)
        item["claimedBy"] = claims.get(d.node)
        out.append(redact(item))
    return out


def _plan_inputs(report: Report) -> PlanInputs | None:
    outcome = report.outcome
    if outcome is None:
        return None
    observed = outcome.observed
    paths = None if observed.paths is None else project(observed.paths, outcome.results)
    return PlanInputs(
        desired=report.loaded.desired,
        devices=list(report.devices),
        paths=paths,
        owned=report.owned,
        settings=report.settings,
        statuses=dict(report.statuses),
        runtime=observed.runtime,
        credentials=observed.credentials,
    )


def _paths(planning: PlanInputs) -> list[Doc]:
    out = []
    for name, config in sorted((planning.paths or {}).items()):
        owner = planning.owned.get(name)
        live = planning.runtime.get(name)
        item: Doc = {
            "name": name,
            "owned": owner is not None,
            "stream": owner.stream if owner else None,
            "source": config.get("source"),
            "record": config.get("record"),
            "ready": live.get("ready") if live else None,
            "readers": len(live.get("readers") or []) if live else None,
            "bytesReceived": live.get("inboundBytes") if live else None,
            # Unowned paths may carry anyone's secrets in their commands: names only.
            "config": {f: config.get(f) for f in MANAGED_FIELDS} if owner else None,
        }
        out.append(redact(item))
    return out


def _controller(report: Report, docs: Mapping[str, list[Doc]]) -> Doc:
    h = report.health
    not_ready = sum(
        1
        for kind_docs in docs.values()
        for d in kind_docs
        if (ready_of(d) or {}).get("status") != "True"
    )
    result: Doc = {
        "node": report.settings.node_name,
        **h.model_dump(mode="json", by_alias=True),
        "resources": {kind: len(kind_docs) for kind, kind_docs in docs.items()},
        "notReady": not_ready,
    }
    redacted: Doc = redact(result)
    return redacted


def ready_of(doc: Doc) -> Doc | None:
    """The Ready condition of a resource document, if it has a status."""
    return condition_of(doc, "Ready")


def condition_of(doc: Doc, type_: str) -> Doc | None:
    """A condition of a resource document by type, if it has a status and that condition."""
    conditions = doc.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c.get("type") == type_), None)
