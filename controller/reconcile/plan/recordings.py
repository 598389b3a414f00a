"""Recordings: where their files are, and what their status says of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from controller.api.conditions import Condition, find
from controller.api.desired import Desired
from controller.api.kinds import (
    DiskSpace,
    Recording,
    RecordingStatus,
    Ref,
    SegmentSummary,
    StreamStatus,
    generation,
)
from controller.api.recorded import Disk, RecordFormat, RecordingFiles
from controller.api.settings import Settings
from controller.api.units import parse_duration
from controller.observe.recordings import allowed
from controller.reconcile.plan.state import Pass

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WRITING_WITHIN = 10.0  # seconds: a Recording whose newest segment is older is not writing


@dataclass(frozen=True)
class RecordTarget:
    """Where to look for one Recording's files."""

    root: str
    path: str
    format: RecordFormat


def recording_root(recording: Recording, settings: Settings) -> str | None:
    """The root a Recording's files go under, if it is one camctl may use."""
    roots = settings.recordings_roots
    root = recording.spec.root or (roots[0] if roots else None)
    return root if root is not None and _allowed(root, roots) else None


@lru_cache(maxsize=1024)
def _allowed(root: str, roots: tuple[str, ...]) -> bool:
    return allowed(root, roots)  # a few roots, asked thrice a pass for every Recording


def record_targets(desired: Desired, settings: Settings) -> Mapping[Ref, RecordTarget]:
    """The Recordings whose files a pass looks at: those with a Stream and a usable root.
    Worked out once for the same documents and settings (every resync asks)."""
    if _targets and _targets[0][0] is desired and _targets[0][1] is settings:
        return _targets[0][2]
    targets = _record_targets(desired, settings)
    _targets[:] = [(desired, settings, targets)]
    return targets


_targets: list[tuple[Desired, Settings, Mapping[Ref, RecordTarget]]] = []  # the last answer


def _record_targets(desired: Desired, settings: Settings) -> Mapping[Ref, RecordTarget]:
    targets = {}
    for key, recording in desired.recordings.items():
        stream = desired.streams.get(Ref("Stream", key.namespace, recording.spec.stream))
        root = recording_root(recording, settings)
        if stream is not None and root is not None:
            targets[key] = RecordTarget(root, stream.path, recording.spec.format)
    return targets


def recording_status(
    state: Pass, key: Ref, recording: Recording, files: RecordingFiles | None
) -> None:
    stream_key = Ref("Stream", key.namespace, recording.spec.stream)
    stream_status = state.statuses.get(stream_key)
    if not isinstance(stream_status, StreamStatus):
        return  # its Stream belongs to another node, or is not loaded
    stream_ready = find(stream_status.conditions, "Ready")
    assert stream_ready is not None  # every planned Stream status has one
    root = recording_root(recording, state.settings)
    if root is None:
        roots = ", ".join(state.settings.recordings_roots) or "none"
        ready = state.ready(
            key,
            False,
            "RootNotAllowed",
            f"spec.root {recording.spec.root} is not under a recordings root ({roots})",
        )
    elif not recording.spec.enabled:
        ready = state.ready(key, True, "Disabled", "recording is turned off (spec.enabled)")
    elif stream_ready.reason in ("Reconciling", "Withheld"):  # its record fields go with it
        ready = state.ready(
            key, False, stream_ready.reason, f"{stream_key}: {stream_ready.message}"
        )
    elif stream_ready.status != "True":
        ready = state.ready(
            key,
            None if stream_ready.status == "Unknown" else False,
            "StreamNotReady",
            f"{stream_key}: {stream_ready.message}",
        )
    else:
        ready = state.ready(
            key, True, "RecordingConfigured", f"path {stream_status.path!r} records"
        )
    before = state.previous.get(key)
    kept = before if isinstance(before, RecordingStatus) else None
    state.settle_as(
        key,
        RecordingStatus,
        observed_generation=generation(recording),
        conditions=state.conditions(
            key,
            ready,
            reconciling=ready.reason in ("Reconciling", "Withheld"),
            stalled=ready.reason == "RootNotAllowed",
            extra=[_writing(state, ready, files), _disk_low(state, files)],
        ),
        path=stream_status.path,
        directory=f"{root.rstrip('/')}/{stream_status.path}" if root else None,
        segments=_segments(files, kept.segments if kept else None),
        retention_horizon=_horizon(recording, state.now),
        disk=_disk_space(files.disk, kept.disk if kept else None) if files and files.disk else None,
    )


def _segments(files: RecordingFiles | None, before: SegmentSummary | None) -> SegmentSummary | None:
    """What the files hold; `before` itself when it says the same (the usual pass)."""
    if files is None or (files.error and not files.segments):
        return None
    segments = files.segments
    sizes = [s.size for s in segments if s.size is not None]
    fields = {
        "count": len(segments),
        "bytes": sum(sizes) if len(sizes) == len(segments) else None,
        "oldest": segments[0].start if segments else None,
        "newest": segments[-1].start if segments else None,
    }
    return before if before is not None and before.__dict__ == fields else SegmentSummary(**fields)


def _disk_space(disk: Disk, before: DiskSpace | None) -> DiskSpace:
    """Free space down to a thousandth of the disk: whatever else writes to that disk should
    not rewrite every Recording's status (and patch it in Kubernetes) at every pass."""
    free = disk.free - disk.free % max(disk.total // 1000, 1)
    if before is not None and before.free_bytes == free and before.total_bytes == disk.total:
        return before
    return DiskSpace(free_bytes=free, total_bytes=disk.total)


def _horizon(recording: Recording, now: datetime) -> datetime | None:
    """When the segments MediaMTX keeps begin: `retention` ago, down to a whole segment
    duration so that the status changes with the segments, not with every pass."""
    return _horizon_of(recording.spec.retention, recording.spec.segment_duration, now)


@lru_cache(maxsize=256)  # Recordings alike share it: worked out once a pass for each kind
def _horizon_of(retention: str, segment_duration: str, now: datetime) -> datetime | None:
    kept = _microseconds(retention)
    if not kept:
        return None
    step = _microseconds(segment_duration)
    since_epoch = (now - EPOCH) // timedelta(microseconds=1) - kept
    return EPOCH + timedelta(microseconds=since_epoch - since_epoch % step)


def _microseconds(duration: str) -> int:
    return parse_duration(duration) // 1000


def _writing(state: Pass, ready: Condition, files: RecordingFiles | None) -> Condition:
    """`Recording`: is MediaMTX writing segments right now, as the files show."""
    if ready.reason != "RecordingConfigured":
        return state.shared("Recording", False, ready.reason, "see the Ready condition")
    if files is None:
        return state.shared("Recording", None, "NotObserved", "files not looked at")
    if files.error and (files.listed_by == "mediamtx" or not files.segments):
        # MediaMTX's listing may stand in for the files, but it has no write times.
        return state.shared("Recording", None, "FilesUnreadable", files.error)
    newest = files.segments[-1] if files.segments else None
    if newest and (state.now - newest.modified).total_seconds() <= WRITING_WITHIN:
        return state.shared("Recording", True, "Writing", "MediaMTX is writing segments")
    none_yet = "" if newest else " (none yet)"
    text = f"no segment written in the last {WRITING_WITHIN:g}s{none_yet}"
    return state.shared("Recording", False, "NotWriting", text)


def _disk_low(state: Pass, files: RecordingFiles | None) -> Condition:
    """`DiskLow`: True when less than the threshold of the recordings' disk is free."""
    disk = files.disk if files else None
    if disk is None or not disk.total:
        return state.shared("DiskLow", None, "NotObserved", "disk space unknown")
    threshold = state.settings.disk_low_percent
    free = 100 * disk.free / disk.total
    if free < threshold:
        # Whole percents: a message that changed with every byte would rewrite the status.
        text = f"{free:.0f}% free, under the {threshold:g}% threshold"
        return state.shared("DiskLow", True, "DiskLow", text)
    return state.shared("DiskLow", False, "DiskOk", f"at least {threshold:g}% free")
