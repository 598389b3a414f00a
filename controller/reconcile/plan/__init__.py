"""The planner: a pure function from desired and observed state to actions and statuses.

Like a controller-runtime Reconcile, it looks at whole snapshots every time, so a lost
event costs nothing, and planning again after applying yields no actions. It never
touches a path it does not own, and never deletes because a source is broken or empty.

Destructive actions (deleting a path, turning recording off, shortening retention) are
planned only from a desired state that is `settled` (read the same twice, a settle time
apart, so a half-saved file is never acted on) and `clean` (loaded without any error),
unless they follow from a camera unplugged under an unchanged Camera document (its status
keeps the `lastDevice`): a cut `serial:` looks just like an unplugged camera, but changes
the document. Otherwise they are withheld, and the plan says which and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from controller.api.credentials import Resolved
from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.kinds import Camera, Ref, Status, ref
from controller.api.mediamtx import PathConfigs, Runtime
from controller.api.ownership import Owner
from controller.api.recorded import RecordingFiles
from controller.api.settings import Settings
from controller.reconcile.plan import network
from controller.reconcile.plan.actions import (
    WITHHELD_BECAUSE,
    Action,
    Op,
    Plan,
    Withheld,
    WithheldReason,
    mark_failed,
)
from controller.reconcile.plan.cameras import DeviceIndex, match_cameras
from controller.reconcile.plan.deletes import plan_deletes
from controller.reconcile.plan.recordings import (
    RecordTarget,
    record_targets,
    recording_root,
    recording_status,
)
from controller.reconcile.plan.rejected import report_rejected
from controller.reconcile.plan.state import Pass
from controller.reconcile.plan.streams import failed_stream, plan_stream, url_host

__all__ = [
    "WITHHELD_BECAUSE",
    "Action",
    "DeviceIndex",
    "Op",
    "Plan",
    "RecordTarget",
    "Withheld",
    "WithheldReason",
    "mark_failed",
    "plan",
    "record_targets",
    "recording_root",
    "url_host",
]


def plan(
    desired: Desired,
    devices: Sequence[Device],
    paths: PathConfigs | None,
    inventory: Mapping[str, Owner],
    settings: Settings,
    now: datetime,
    previous: Mapping[Ref, Status] | None = None,
    runtime: Runtime | None = None,
    recordings: Mapping[Ref, RecordingFiles] | None = None,
    *,
    settled: bool = True,
    credentials: Mapping[Ref, Resolved] | None = None,
    sampled: datetime | None = None,
) -> Plan:
    """Actions that converge MediaMTX, and the status every resource will then have.

    `paths` is None when MediaMTX could not be read: statuses say so and nothing is done.
    `recordings` are the files found for each Recording (see record_targets); without them
    a Recording's status says nothing of its files. `settled`: the desired state read the
    same twice, a settle time apart (see the module docstring). `credentials`: those of
    the network Cameras that name some, as read before the pass (see `api.credentials`).
    `sampled`: when `runtime` was read, to the microsecond (bitrates are taken over it).
    """
    inventory = {**desired.recorded, **inventory} if desired.recorded else inventory
    state = Pass(desired, paths, inventory, settings, now, previous or {}, settled, sampled)
    cameras = {
        key: cam
        for key, cam in sorted(desired.cameras.items())
        if _is_ours(cam, settings.node_name)
    }
    usb = {key: cam for key, cam in cameras.items() if not cam.spec.network}
    matched = match_cameras(state, usb, devices)
    network.pulls(state, cameras, credentials or {})
    for key, stream in sorted(desired.streams.items()):
        camera = desired.camera_of(stream)
        if camera is None or ref(camera) in cameras:
            try:
                plan_stream(state, key, stream, camera, matched, runtime or {})
            except Exception as exc:  # a bug of ours: this Stream waits, the others go on
                failed_stream(state, key, stream, exc)
    network.camera_statuses(state, cameras, runtime or {})
    report_rejected(state, in_force=False)  # before the Recordings that hang off such Streams
    for key, recording in sorted(desired.recordings.items()):
        recording_status(state, key, recording, (recordings or {}).get(key))
    report_rejected(state, in_force=True)
    plan_deletes(state)
    inventory = {**state.claimed, **{p: inventory[p] for p in state.kept if p in inventory}}
    actions = sorted(state.actions, key=_order)
    withheld = sorted(state.withheld, key=lambda w: _order(w.action))
    return Plan(actions, state.statuses, inventory, state.notes, withheld, state.recheck)


def _is_ours(camera: Camera, node_name: str | None) -> bool:
    return camera.spec.node is None or camera.spec.node == node_name


def _order(action: Action) -> tuple[int, str]:
    return ({"delete": 0, "patch": 1, "add": 2, "restart": 3}[action.op], action.path)
