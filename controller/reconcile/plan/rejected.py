"""Invalid and dangling documents: reported on their resources, from any source."""

from __future__ import annotations

from controller.api.kinds import CameraStatus, RecordingStatus, StreamStatus
from controller.reconcile.plan.state import Pass

STATUS_OF: dict[str, type[CameraStatus] | type[StreamStatus] | type[RecordingStatus]] = {
    "Camera": CameraStatus,
    "Stream": StreamStatus,
    "Recording": RecordingStatus,
}


def report_rejected(state: Pass, *, in_force: bool) -> None:
    """Invalid or dangling documents are reported on their resources, stalled: a person
    must fix them. One whose last valid spec is still in force says so."""
    desired = state.desired
    for key, why in sorted(desired.rejected.items()):
        kept = key in desired.cameras or key in desired.streams or key in desired.recordings
        if kept != in_force or key.kind not in STATUS_OF:
            continue
        message = why.message + ("; its last valid spec stays in force" if kept else "")
        ready = state.ready(key, False, why.reason, message)
        conditions = state.conditions(key, ready, stalled=True)
        if (planned := state.statuses.get(key)) is not None:
            seen = planned.observed_generation if why.generation is None else why.generation
            status = planned.model_copy(
                update={"conditions": conditions, "observed_generation": seen}
            )
        else:
            status = STATUS_OF[key.kind](observed_generation=why.generation, conditions=conditions)
        state.settle(key, status)
