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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from controller.api.conditions import Condition, condition, find, merge_conditions
from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.kinds import (
    Camera,
    CameraMatch,
    CameraStatus,
    DiskSpace,
    Recording,
    RecordingStatus,
    Ref,
    SegmentSummary,
    Status,
    Stream,
    StreamStatus,
    StreamUrls,
    generation,
    ref,
)
from controller.api.ownership import Owner
from controller.api.recorded import Disk, RecordFormat, RecordingFiles
from controller.api.settings import Settings
from controller.api.units import parse_duration
from controller.observe.recordings import allowed
from controller.reconcile.render import choose_device, destructive, differing, path_config

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WRITING_WITHIN = 10.0  # seconds: a Recording whose newest segment is older is not writing

Op = Literal["add", "patch", "delete"]
WithheldReason = Literal["unclean", "unsettled"]
WITHHELD_BECAUSE: dict[WithheldReason, str] = {
    "unclean": "the documents have errors: fix them, and it follows",
    "unsettled": "the documents changed a moment ago: it follows once they read the same twice",
}


@dataclass(frozen=True)
class Action:
    op: Op
    path: str
    config: Mapping[str, Any] = field(default_factory=dict)
    diff: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    stream: Ref | None = None


@dataclass(frozen=True)
class Withheld:
    """A destructive action the plan would take, held back until the documents allow it."""

    action: Action
    reason: WithheldReason

    @property
    def message(self) -> str:
        return WITHHELD_BECAUSE[self.reason]


@dataclass
class Plan:
    actions: list[Action]
    statuses: dict[Ref, Status]
    inventory: dict[str, Owner]
    notes: list[str]
    withheld: list[Withheld] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not self.actions and not self.withheld

    def inventory_after(self, failed: Iterable[str] = ()) -> dict[str, Owner]:
        """What camctl owns once the actions ran: deleted paths are no longer owned."""
        gone = {a.path for a in self.actions if a.op == "delete"} - set(failed)
        return {p: o for p, o in self.inventory.items() if p not in gone}


@dataclass
class _Pass:
    """Working state of one planning pass."""

    desired: Desired
    paths: Mapping[str, Mapping[str, Any]] | None
    inventory: Mapping[str, Owner]
    settings: Settings
    now: datetime
    previous: Mapping[Ref, Status]
    settled: bool
    actions: list[Action] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    unplugged: set[str] = field(default_factory=set)  # paths whose camera has no device
    waiting: dict[str, str] = field(default_factory=dict)  # path -> why a change is withheld
    statuses: dict[Ref, Status] = field(default_factory=dict)
    claimed: dict[str, Owner] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    idle: dict[str, Condition] = field(init=False)

    def __post_init__(self) -> None:
        self.idle = _idle(self.now)
        self._shared: dict[tuple[str, bool | None, str, str], Condition] = {}

    def hold_back(self, from_documents: bool) -> WithheldReason | None:
        """Why a destructive action may not be taken now, if it may not."""
        if from_documents and not self.desired.clean:
            return "unclean"
        return None if self.settled else "unsettled"

    def ready(self, key: Ref, status: bool | None, reason: str, message: str) -> Condition:
        """The Ready condition: on most passes the previous one itself, not a copy of it."""
        before = self.previous.get(key)
        old = find(before.conditions, "Ready") if before is not None else None
        text = "Unknown" if status is None else str(status)
        if old is not None and (old.status, old.reason, old.message) == (text, reason, message):
            return old
        return condition("Ready", status, reason, message, self.now)

    def shared(self, type_: str, status: bool | None, reason: str, message: str) -> Condition:
        """A condition many resources have alike, made once a pass (see _idle)."""
        key = (type_, status, reason, message)
        if (found := self._shared.get(key)) is None:
            found = self._shared[key] = condition(type_, status, reason, message, self.now)
        return found

    def settle(self, key: Ref, status: Status) -> None:
        """Record a status; an unchanged one is the previous object itself, so this pass's
        copy is freed at once instead of living on into the collector's old generation."""
        before = self.previous.get(key)
        self.statuses[key] = before if before == status else status

    def conditions(
        self,
        key: Ref,
        ready: Condition,
        *,
        reconciling: bool = False,
        stalled: bool = False,
        extra: Sequence[Condition] = (),
    ) -> list[Condition]:
        """Ready, the kstatus pair and `extra`, with the previous times of those whose
        status held."""
        current = _summary(ready, reconciling=reconciling, stalled=stalled, idle=self.idle)
        current += extra
        before = self.previous.get(key)
        return current if before is None else merge_conditions(before.conditions, current)


def plan(
    desired: Desired,
    devices: Sequence[Device],
    paths: Mapping[str, Mapping[str, Any]] | None,
    inventory: Mapping[str, Owner],
    settings: Settings,
    now: datetime,
    previous: Mapping[Ref, Status] | None = None,
    runtime: Mapping[str, Mapping[str, Any]] | None = None,
    recordings: Mapping[Ref, RecordingFiles] | None = None,
    *,
    settled: bool = True,
) -> Plan:
    """Actions that converge MediaMTX, and the status every resource will then have.

    `paths` is None when MediaMTX could not be read: statuses say so and nothing is done.
    `recordings` are the files found for each Recording (see record_targets); without them
    a Recording's status says nothing of its files. `settled`: the desired state read the
    same twice, a settle time apart (see the module docstring).
    """
    state = _Pass(desired, paths, inventory, settings, now, previous or {}, settled)
    cameras = {
        key: cam
        for key, cam in sorted(desired.cameras.items())
        if _is_ours(cam, settings.node_name)
    }
    matched = _match_cameras(state, cameras, devices)
    for key, stream in sorted(desired.streams.items()):
        camera = desired.camera_of(stream)
        if camera is None or ref(camera) in cameras:
            try:
                _plan_stream(state, key, stream, camera, matched, runtime or {})
            except Exception as exc:  # a bug of ours: this Stream waits, the others go on
                _failed_stream(state, key, stream, exc)
    _rejected(state, in_force=False)  # before the Recordings that hang off such Streams
    for key, recording in sorted(desired.recordings.items()):
        _recording_status(state, key, recording, (recordings or {}).get(key))
    _rejected(state, in_force=True)
    _plan_deletes(state)
    inventory = {**state.claimed, **{p: inventory[p] for p in state.kept if p in inventory}}
    actions = sorted(state.actions, key=_order)
    withheld = sorted(state.withheld, key=lambda w: _order(w.action))
    return Plan(actions, state.statuses, inventory, state.notes, withheld)


def _is_ours(camera: Camera, node_name: str | None) -> bool:
    return camera.spec.node is None or camera.spec.node == node_name


def _order(action: Action) -> tuple[int, str]:
    return ({"delete": 0, "patch": 1, "add": 2}[action.op], action.path)


# --- Cameras -------------------------------------------------------------------------


def _match_cameras(
    state: _Pass, cameras: Mapping[Ref, Camera], devices: Sequence[Device]
) -> dict[Ref, Device]:
    """Each Camera's one device; ambiguity and two claims on a device match nothing."""
    index = DeviceIndex(devices)
    candidates = {key: index.candidates(cam.spec.match) for key, cam in cameras.items()}
    claims: dict[str, list[Ref]] = {}
    for key, found in candidates.items():
        if len(found) == 1:
            claims.setdefault(found[0].node, []).append(key)
    matched: dict[Ref, Device] = {}
    for key, cam in cameras.items():
        found = candidates[key]
        if not found:
            ready = state.ready(key, False, "DeviceAbsent", "no device matches spec.match")
        elif len(found) > 1:
            nodes = ", ".join(d.node for d in found)
            ready = state.ready(
                key, False, "AmbiguousMatch", f"spec.match fits {len(found)} devices: {nodes}"
            )
        elif len(rivals := claims[found[0].node]) > 1:
            others = ", ".join(str(r) for r in rivals if r != key)
            ready = state.ready(
                key, False, "DeviceConflict", f"{found[0].node} is also matched by {others}"
            )
        else:
            matched[key] = found[0]
            name = found[0].product or found[0].node
            ready = state.ready(key, True, "DeviceFound", f"{found[0].node} ({name})")
        stalled = ready.reason in ("AmbiguousMatch", "DeviceConflict")
        state.settle(
            key,
            CameraStatus(
                observed_generation=generation(cam),
                conditions=state.conditions(key, ready, stalled=stalled),
                device=matched.get(key),
                last_device=None if key in matched else _last_device(state, cam),
            ),
        )
    return matched


def _last_device(state: _Pass, camera: Camera) -> Device | None:
    """The device the Camera had when last matched under this very document."""
    before = state.previous.get(ref(camera))
    if not isinstance(before, CameraStatus) or before.observed_generation != generation(camera):
        return None
    return before.device or before.last_device


class DeviceIndex:
    """Devices looked up by their most selective fact, so matching stays linear in N."""

    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = sorted(devices, key=lambda d: d.node)
        self.by: dict[str, dict[str, list[Device]]] = {"serial": {}, "usb_path": {}, "name": {}}
        for d in self.devices:
            if d.serial:
                self.by["serial"].setdefault(d.serial.lower(), []).append(d)
            if d.usb_path:
                self.by["usb_path"].setdefault(d.usb_path.lower(), []).append(d)
            for name in {d.node, d.by_id, d.by_path} - {None}:
                self.by["name"].setdefault(str(name).lower(), []).append(d)

    def candidates(self, match: CameraMatch) -> list[Device]:
        keys = (("serial", match.serial), ("usb_path", match.usb_path), ("name", match.device))
        pool = next(
            (self.by[index].get(value.lower(), []) for index, value in keys if value),
            self.devices,
        )
        return [d for d in pool if match.matches(d)]


# --- Streams -------------------------------------------------------------------------


def _plan_stream(
    state: _Pass,
    key: Ref,
    stream: Stream,
    camera: Camera | None,
    matched: Mapping[Ref, Device],
    runtime: Mapping[str, Mapping[str, Any]],
) -> None:
    path = stream.path
    observed = None if state.paths is None else state.paths.get(path)
    owned = path in state.inventory
    device = matched.get(ref(camera)) if camera else None
    chosen: dict[str, Any] = {}  # the device name ffmpeg opens, once there is a device
    live: Mapping[str, Any] | None = None  # what MediaMTX says of the path, once configured
    if camera is None:
        state.kept.add(path)
        ready = state.ready(key, None, "CameraUnknown", "its Camera is not loaded (see errors)")
    elif state.paths is None:
        state.kept.add(path)
        ready = state.ready(key, None, "MediaMTXUnreachable", "MediaMTX could not be read")
    elif observed is not None and not owned and not stream.spec.adopt:
        ready = state.ready(
            key,
            False,
            "PathConflict",
            f"path {path!r} exists and camctl did not create it (set spec.adopt to take it over)",
        )
    elif device is None:
        # Without its camera the path would only restart ffmpeg in a loop: remove it.
        if _last_device(state, camera) is not None:
            state.unplugged.add(path)
        ready = state.ready(key, False, "CameraNotReady", f"{ref(camera)} has no device")
    else:
        choice = choose_device(device, stream.spec.device_link or state.settings.device_link)
        chosen = {"device": choice.path, "device_link": choice.link}
        recording = state.desired.recording_of(stream)
        root = recording_root(recording, state.settings) if recording else None
        wanted = path_config(stream, choice.path, recording, root)
        owner = Owner(str(key), state.desired.origins.get(key, ""))
        if state.inventory.get(path) == owner:
            owner = state.inventory[path]  # the very same: fewer new objects on each pass
        state.claimed[path] = owner
        _converge(state, key, path, wanted, observed)
        live = runtime.get(path, {})
        ready = state.ready(key, True, "PathConfigured", f"MediaMTX path {path!r} is configured")
    pending = path in state.pending
    if pending:
        ready = state.ready(key, False, "Reconciling", f"path {path!r} is being configured")
    elif path in state.waiting:
        pending = True
        ready = state.ready(key, False, "Withheld", state.waiting[path])
    status = StreamStatus(
        observed_generation=generation(stream),
        path=path,
        urls=_urls(path, state.settings),
        conditions=state.conditions(
            key, ready, reconciling=pending, stalled=ready.reason == "PathConflict"
        ),
        **chosen,
    )
    if live is not None:  # taken as MediaMTX reports them
        status.readers = len(live.get("readers") or []) if live else None
        status.bytes_received = live.get("inboundBytes") if live else None
    state.settle(key, status)


def _failed_stream(state: _Pass, key: Ref, stream: Stream, exc: Exception) -> None:
    """Keep the Stream's path as it is and say why, instead of failing the whole pass."""
    state.kept.add(stream.path)
    state.actions = [a for a in state.actions if a.stream != key]
    state.withheld = [w for w in state.withheld if w.action.stream != key]
    ready = state.ready(key, None, "InternalError", f"camctl could not plan it: {exc!r}")
    status = StreamStatus(
        observed_generation=generation(stream),
        path=stream.path,
        conditions=state.conditions(key, ready, stalled=True),
    )
    state.settle(key, status)


def _converge(
    state: _Pass, key: Ref, path: str, wanted: Mapping[str, Any], observed: Mapping[str, Any] | None
) -> None:
    if observed is None:
        diff = {f: (None, v) for f, v in wanted.items()}
        state.actions.append(Action("add", path, dict(wanted), diff, key))
        state.pending.add(path)
        return
    changes = differing(wanted, observed)
    losing = destructive(changes, observed)
    if losing and (reason := state.hold_back(from_documents=True)):
        held = {f: changes.pop(f) for f in losing}
        diff = {f: (observed.get(f), v) for f, v in held.items()}
        state.withheld.append(Withheld(Action("patch", path, held, diff, key), reason))
        state.waiting[path] = (
            f"{' and '.join(sorted(held))} of path {path!r} wait: {WITHHELD_BECAUSE[reason]}"
        )
    if changes:
        diff = {f: (observed.get(f), v) for f, v in changes.items()}
        state.actions.append(Action("patch", path, changes, diff, key))
        state.pending.add(path)


def url_host(host: str) -> str:
    """A host as URLs write it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@lru_cache(maxsize=4096)
def _urls(path: str, settings: Settings) -> StreamUrls:
    """Made once per path and settings: never changed (statuses are not edited)."""
    host = url_host(settings.public_host)
    return StreamUrls(
        rtsp=f"rtsp://{host}:{settings.rtsp_port}/{path}",
        hls=f"http://{host}:{settings.hls_port}/{path}/",
        webrtc=f"http://{host}:{settings.webrtc_port}/{path}/",
    )


# --- Recordings ----------------------------------------------------------------------


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


def record_targets(desired: Desired, settings: Settings) -> dict[Ref, RecordTarget]:
    """The Recordings whose files a pass looks at: those with a Stream and a usable root."""
    targets = {}
    for key, recording in desired.recordings.items():
        stream = desired.streams.get(Ref("Stream", key.namespace, recording.spec.stream))
        root = recording_root(recording, settings)
        if stream is not None and root is not None:
            targets[key] = RecordTarget(root, stream.path, recording.spec.format)
    return targets


def _recording_status(
    state: _Pass, key: Ref, recording: Recording, files: RecordingFiles | None
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
    summary = _segments(files)
    state.settle(
        key,
        RecordingStatus(
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
            segments=summary,
            retention_horizon=_horizon(recording, state.now),
            disk=_disk_space(files.disk) if files and files.disk else None,
        ),
    )


def _segments(files: RecordingFiles | None) -> SegmentSummary | None:
    if files is None or (files.error and not files.segments):
        return None
    segments = files.segments
    sizes = [s.size for s in segments if s.size is not None]
    return SegmentSummary(
        count=len(segments),
        bytes=sum(sizes) if len(sizes) == len(segments) else None,
        oldest=segments[0].start if segments else None,
        newest=segments[-1].start if segments else None,
    )


def _disk_space(disk: Disk) -> DiskSpace:
    """Free space down to a thousandth of the disk: whatever else writes to that disk should
    not rewrite every Recording's status (and patch it in Kubernetes) at every pass."""
    step = max(disk.total // 1000, 1)
    return DiskSpace(free_bytes=disk.free - disk.free % step, total_bytes=disk.total)


def _horizon(recording: Recording, now: datetime) -> datetime | None:
    """When the segments MediaMTX keeps begin: `retention` ago, down to a whole segment
    duration so that the status changes with the segments, not with every pass."""
    retention = _microseconds(recording.spec.retention)
    if not retention:
        return None
    step = _microseconds(recording.spec.segment_duration)
    since_epoch = (now - EPOCH) // timedelta(microseconds=1) - retention
    return EPOCH + timedelta(microseconds=since_epoch - since_epoch % step)


def _microseconds(duration: str) -> int:
    return parse_duration(duration) // 1000


def _writing(state: _Pass, ready: Condition, files: RecordingFiles | None) -> Condition:
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


def _disk_low(state: _Pass, files: RecordingFiles | None) -> Condition:
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


# --- Invalid documents ---------------------------------------------------------------

STATUS_OF: dict[str, type[CameraStatus] | type[StreamStatus] | type[RecordingStatus]] = {
    "Camera": CameraStatus,
    "Stream": StreamStatus,
    "Recording": RecordingStatus,
}


def _rejected(state: _Pass, *, in_force: bool) -> None:
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


# --- Deletes -------------------------------------------------------------------------


def _plan_deletes(state: _Pass) -> None:
    """Delete owned paths nothing claims, unless the documents cannot be trusted to say so
    (see the module docstring) or nothing at all is declared."""
    orphans = sorted(set(state.inventory) - set(state.claimed) - state.kept)
    if orphans and not state.desired and not state.settings.allow_empty:
        state.notes.append(
            f"no resources are declared: keeping {len(orphans)} owned path(s); "
            "pass --allow-empty to remove them"
        )
        state.kept.update(orphans)
        return
    for path in orphans:
        if state.paths is None or path not in state.paths:
            if state.paths is None:
                state.kept.add(path)
            continue
        state.kept.add(path)  # owned until the delete succeeds
        delete = Action("delete", path, diff={"path": (path, None)})
        # A camera unplugged is a fact; a Stream gone from the documents may be a misread.
        if reason := state.hold_back(from_documents=path not in state.unplugged):
            state.withheld.append(Withheld(delete, reason))
        else:
            state.actions.append(delete)


# --- Conditions ----------------------------------------------------------------------


def _summary(
    ready: Condition, *, reconciling: bool, stalled: bool, idle: Mapping[str, Condition]
) -> list[Condition]:
    """Ready plus the kstatus pair, so `kubectl wait` and kstatus users both understand it."""
    return [
        ready,
        _flag("Reconciling", reconciling, ready, idle),
        _flag("Stalled", stalled, ready, idle),
    ]


def _flag(type_: str, on: bool, ready: Condition, idle: Mapping[str, Condition]) -> Condition:
    """Reconciling or Stalled: True for Ready's reason, else the pass's one shared `idle`."""
    if not on:
        return idle[type_]
    return condition(type_, True, ready.reason, ready.message, ready.last_transition_time)


def _idle(now: datetime) -> dict[str, Condition]:
    """Reconciling and Stalled when False: alike for every resource, so made once a pass
    (conditions are immutable; thousands of copies would only keep the collector busy)."""
    return {type_: condition(type_, False, "Idle", "", now) for type_ in ("Reconciling", "Stalled")}


def mark_failed(plan: Plan, action: Action, error: str, now: datetime) -> None:
    """Record a failed action in its Stream's status (the plan assumed success).

    A new status object: planned statuses may be the previous pass's own, never changed."""
    status = plan.statuses.get(action.stream) if action.stream else None
    if action.stream and isinstance(status, StreamStatus):
        ready = condition(
            "Ready", False, "ApplyFailed", f"{action.op} {action.path!r}: {error}", now
        )
        conditions = _summary(ready, reconciling=True, stalled=False, idle=_idle(now))
        plan.statuses[action.stream] = status.model_copy(update={"conditions": conditions})
