"""The planner: examples of each rule, then properties over generated worlds (hypothesis)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.api.conditions import find
from controller.api.desired import Desired, assemble
from controller.api.device import Device
from controller.api.kinds import (
    Camera,
    CameraStatus,
    RecordingStatus,
    Ref,
    StreamStatus,
    parse_resource,
)
from controller.api.ownership import Owner
from controller.api.recorded import Disk, RecordingFiles, Segment
from controller.api.settings import Settings
from controller.api.units import normalize_duration
from controller.observe.recordings import listed_by_mediamtx
from controller.reconcile.plan import (
    Action,
    Plan,
    RecordTarget,
    plan,
    record_targets,
)
from controller.reconcile.plan import streams as plan_streams
from controller.reconcile.render import DURATION_FIELDS, RECORD_FIELDS, destructive

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = Settings(node_name="edge-01")
SOURCE = "cams.yaml"
# What MediaMTX fills in around the fields camctl manages, when it answers a read.
RESOLVED_EXTRAS = {"sourceOnDemand": False, "maxReaders": 0, "readPass": "<redacted>"}


def doc(kind: str, name: str, **spec: Any) -> Any:
    return parse_resource(
        {
            "apiVersion": "camctl.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def camera(name: str, serial: str, **spec: Any) -> Camera:
    result = doc("Camera", name, match={"serial": serial}, **spec)
    assert isinstance(result, Camera)
    return result


def device(serial: str, node: str | None = None) -> Device:
    return Device(
        node=node or f"/dev/video-{serial}", serial=serial, by_id=f"/dev/v4l/by-id/{serial}"
    )


def desired(*resources: Any, source: str = SOURCE, clean: bool = True) -> Desired:
    snapshot, problems = assemble(((r, source) for r in resources), clean=clean)
    assert problems == []
    return snapshot


def mediamtx_after(paths: Mapping[str, Mapping[str, Any]], actions: list[Action]) -> dict[str, Any]:
    """MediaMTX's config paths after the actions, read back as MediaMTX answers reads."""
    state = {name: dict(conf) for name, conf in paths.items()}
    for action in actions:
        if action.op == "delete":
            del state[action.path]
            continue
        if action.op == "add":
            assert action.path not in state, "add of an existing path is a 400"
            state[action.path] = {"name": action.path, **RESOLVED_EXTRAS}
        state[action.path].update(
            {
                f: normalize_duration(v) if f in DURATION_FIELDS else v
                for f, v in action.config.items()
            }
        )
    return state


def run(
    world: Desired,
    devices: list[Device],
    paths: dict[str, Any] | None,
    owned: dict[str, Owner],
    **kw: Any,
) -> Plan:
    return plan(world, devices, paths, owned, kw.pop("settings", SETTINGS), NOW, **kw)


def ready(result: Plan, key: Ref) -> tuple[str, str]:
    cond = find(result.statuses[key].conditions, "Ready")
    assert cond is not None
    return cond.status, cond.reason


FRONT = Ref("Stream", "default", "front")
WORLD = desired(camera("front", "S1"), doc("Stream", "front", camera="front", path="cams/front"))


def converged_paths(
    world: Desired = WORLD, devices: list[Device] | None = None
) -> tuple[dict[str, Any], dict[str, Owner]]:
    first = run(world, devices or [device("S1")], {}, {})
    return mediamtx_after({}, first.actions), first.inventory


# --- examples ------------------------------------------------------------------------


def test_cold_start_adds_every_field_camctl_manages() -> None:
    result = run(WORLD, [device("S1")], {}, {})
    (action,) = result.actions
    assert action.op == "add" and action.path == "cams/front" and action.stream == FRONT
    assert "/dev/v4l/by-id/S1" in action.config["runOnInit"]
    assert {f: action.config[f] for f in RECORD_FIELDS if f in action.config} == {"record": False}
    assert result.inventory == {"cams/front": Owner(str(FRONT), SOURCE)}
    status = result.statuses[FRONT]
    assert isinstance(status, StreamStatus)
    assert status.device_link == "byId" and status.urls and status.urls.rtsp.endswith("/cams/front")


def test_converged_plans_nothing_and_reads_are_compared_semantically() -> None:
    paths, owned = converged_paths()
    result = run(WORLD, [device("S1")], paths, owned)
    assert result.actions == []
    assert ready(result, FRONT) == ("True", "PathConfigured")
    assert ready(result, Ref("Camera", "default", "front")) == ("True", "DeviceFound")


def test_drift_is_patched_field_by_field() -> None:
    paths, owned = converged_paths(recorded())
    paths["cams/front"]["runOnInit"] = "ffmpeg -i something-else"
    paths["cams/front"]["recordDeleteAfter"] = "3d"
    (action,) = run(recorded(), [device("S1")], paths, owned).actions
    assert action.op == "patch" and set(action.config) == {"runOnInit", "recordDeleteAfter"}
    assert action.diff["recordDeleteAfter"] == ("3d", "7d")


def test_the_retention_of_a_path_without_recording_is_left_alone() -> None:
    """MediaMTX deletes old segments by recordDeleteAfter even while record is off: writing
    its default back could cut what an earlier Recording kept."""
    paths, owned = converged_paths()
    paths["cams/front"]["recordDeleteAfter"] = "30d"
    assert run(WORLD, [device("S1")], paths, owned).actions == []


def test_a_path_camctl_did_not_create_is_a_conflict_unless_adopted() -> None:
    paths = {"cams/front": {"name": "cams/front", "source": "publisher"}}
    result = run(WORLD, [device("S1")], paths, {})
    assert result.actions == [] and result.inventory == {}
    assert ready(result, FRONT) == ("False", "PathConflict")
    stalled = find(result.statuses[FRONT].conditions, "Stalled")
    assert stalled is not None and stalled.status == "True"

    adopting = desired(
        camera("front", "S1"), doc("Stream", "front", camera="front", path="cams/front", adopt=True)
    )
    result = run(adopting, [device("S1")], paths, {})
    assert [a.op for a in result.actions] == ["patch"]
    assert "cams/front" in result.inventory


def test_owned_paths_no_longer_declared_are_deleted() -> None:
    paths, owned = converged_paths()
    other = desired(camera("back", "S2"))
    result = run(other, [device("S1"), device("S2")], paths, owned)
    assert [(a.op, a.path) for a in result.actions] == [("delete", "cams/front")]


def test_a_broken_source_never_causes_a_delete() -> None:
    paths, owned = converged_paths()
    broken = desired(camera("back", "S2"), source="other.yaml", clean=False)
    result = run(broken, [device("S1")], paths, owned)
    assert result.actions == [] and "cams/front" in result.inventory
    (withheld,) = result.withheld
    assert (withheld.action.op, withheld.action.path, withheld.reason) == (
        "delete",
        "cams/front",
        "unclean",
    )
    assert not result.converged


def test_documents_that_just_changed_delete_nothing_until_they_settle() -> None:
    paths, owned = converged_paths()
    result = run(desired(camera("back", "S2")), [device("S1")], paths, owned, settled=False)
    assert result.actions == [] and [w.reason for w in result.withheld] == ["unsettled"]


def test_an_unplugged_camera_is_a_fact_even_while_other_documents_are_broken() -> None:
    paths, owned = converged_paths()
    was = run(WORLD, [device("S1")], paths, owned).statuses
    broken_elsewhere = replace(WORLD, clean=False)
    result = run(broken_elsewhere, [], paths, owned, previous=was)
    assert [(a.op, a.path) for a in result.actions] == [("delete", "cams/front")]
    waiting = run(broken_elsewhere, [], paths, owned, previous=was, settled=False)
    assert waiting.actions == []
    # The fact outlives the pass that saw it, as long as the Camera's document is the same.
    later = run(broken_elsewhere, [], paths, owned, previous=waiting.statuses)
    assert [(a.op, a.path) for a in later.actions] == [("delete", "cams/front")]
    camera_status = later.statuses[Ref("Camera", "default", "front")]
    assert isinstance(camera_status, CameraStatus) and camera_status.last_device == device("S1")
    # Without that history (a new process), or with the Camera's document changed, the
    # absence may be a misread document: it waits for a clean one.
    assert run(broken_elsewhere, [], paths, owned).actions == []
    edited = desired(camera("front", "S9"), *WORLD.streams.values(), clean=False)
    assert run(edited, [], paths, owned, previous=was).actions == []


def test_an_empty_source_prunes_only_when_allowed() -> None:
    paths, owned = converged_paths()
    result = run(Desired(), [device("S1")], paths, owned)
    assert result.actions == [] and result.inventory == owned
    assert "--allow-empty" in result.notes[0]
    allowed = Settings(node_name="edge-01", allow_empty=True)
    assert [a.op for a in run(Desired(), [], paths, owned, settings=allowed).actions] == ["delete"]


def test_an_absent_camera_removes_its_path_and_says_why() -> None:
    paths, owned = converged_paths()
    result = run(WORLD, [], paths, owned)
    assert [(a.op, a.path) for a in result.actions] == [("delete", "cams/front")]
    assert ready(result, Ref("Camera", "default", "front")) == ("False", "DeviceAbsent")
    assert ready(result, FRONT) == ("False", "CameraNotReady")


def test_ambiguous_and_conflicting_matches_are_never_guessed() -> None:
    twins = [device("S1", "/dev/video0"), device("S1", "/dev/video2")]
    result = run(WORLD, twins, {}, {})
    assert result.actions == []
    assert ready(result, Ref("Camera", "default", "front")) == ("False", "AmbiguousMatch")

    both = desired(camera("a", "S1"), camera("b", "S1"))
    result = run(both, [device("S1")], {}, {})
    assert ready(result, Ref("Camera", "default", "a")) == ("False", "DeviceConflict")
    assert ready(result, Ref("Camera", "default", "b")) == ("False", "DeviceConflict")


def test_cameras_of_other_nodes_are_left_to_their_controller() -> None:
    elsewhere = desired(
        camera("front", "S1", node="edge-02"),
        doc("Stream", "front", camera="front", path="cams/front"),
    )
    result = run(elsewhere, [device("S1")], {}, {})
    assert result.actions == [] and result.statuses == {}
    mine = run(elsewhere, [device("S1")], {}, {}, settings=Settings(node_name="edge-02"))
    assert [a.op for a in mine.actions] == ["add"]


def test_unreachable_mediamtx_plans_nothing_and_reports_unknown() -> None:
    _, owned = converged_paths()
    result = run(Desired(), [], None, owned)
    assert result.actions == [] and result.inventory == owned
    result = run(WORLD, [device("S1")], None, owned)
    assert ready(result, FRONT) == ("Unknown", "MediaMTXUnreachable")


def test_turning_recording_on_touches_only_record_fields() -> None:
    paths, owned = converged_paths()
    recorded = desired(
        *WORLD.cameras.values(), *WORLD.streams.values(), doc("Recording", "front", stream="front")
    )
    (action,) = run(recorded, [device("S1")], paths, owned).actions
    assert action.op == "patch" and set(action.config) <= set(RECORD_FIELDS)
    assert action.config["record"] is True


REC = Ref("Recording", "default", "front")


def recorded(**spec: Any) -> Desired:
    recording = doc("Recording", "front", stream="front", **spec)
    return desired(*WORLD.cameras.values(), *WORLD.streams.values(), recording)


def files(*ages: float, free: int = 50, error: str | None = None) -> RecordingFiles:
    """Segments that started `ages` seconds before NOW (oldest first), each 1 MB, the newest
    last written at NOW; `free` percent of a 1 TB disk."""
    segments = tuple(
        Segment(f"cams/front/{i}.mp4", NOW - timedelta(seconds=age), 1.0, 1_000_000, NOW)
        for i, age in enumerate(ages)
    )
    disk = Disk(free * 10**10, 10**12)
    return RecordingFiles("/rec", "cams/front", segments, disk, error)


def recording_status(world: Desired, found: RecordingFiles | None, **kw: Any) -> RecordingStatus:
    paths, owned = converged_paths(world)
    recordings = {REC: found} if found else {}
    status = run(world, [device("S1")], paths, owned, recordings=recordings, **kw).statuses[REC]
    assert isinstance(status, RecordingStatus)
    return status


def condition_of(status: RecordingStatus, type_: str) -> tuple[str, str]:
    cond = find(status.conditions, type_)
    assert cond is not None, type_
    return cond.status, cond.reason


def test_a_recording_reports_its_files_disk_and_horizon() -> None:
    status = recording_status(recorded(retention="2d", segmentDuration="1h"), files(7200, 3600, 5))
    assert condition_of(status, "Ready") == ("True", "RecordingConfigured")
    assert condition_of(status, "Recording") == ("True", "Writing")
    assert condition_of(status, "DiskLow") == ("False", "DiskOk")
    assert status.segments is not None and status.segments.count == 3
    assert status.segments.bytes == 3_000_000
    assert status.segments.oldest == NOW - timedelta(seconds=7200)
    assert status.segments.newest == NOW - timedelta(seconds=5)
    assert status.disk is not None and status.disk.free_bytes == 5 * 10**11
    # Other writers on the disk do not change the status with every pass: a thousandth of it.
    found = files(7200, 3600, 5)
    nearly = replace(found, disk=Disk(found.disk.free - 10**6, found.disk.total))  # type: ignore[union-attr]
    same = recording_status(recorded(retention="2d", segmentDuration="1h"), nearly)
    assert same.disk is not None and same.disk.free_bytes == 499 * 10**9
    assert status.directory == "/var/lib/mediamtx/recordings/cams/front"
    # Two days back, down to a whole hour: it moves with the segments, not with every pass.
    assert status.retention_horizon == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert recording_status(recorded(retention="0s"), files(5)).retention_horizon is None


def test_recording_condition_follows_the_newest_write() -> None:
    stale = files(3600)
    stale = RecordingFiles(
        stale.root,
        stale.path,
        tuple(replace(s, modified=NOW - timedelta(seconds=60)) for s in stale.segments),
        stale.disk,
    )
    assert condition_of(recording_status(recorded(), stale), "Recording") == (
        "False",
        "NotWriting",
    )
    none_yet = recording_status(recorded(), files())
    assert condition_of(none_yet, "Recording") == ("False", "NotWriting")
    assert none_yet.segments is not None and none_yet.segments.count == 0
    disabled = recording_status(recorded(enabled=False), files(5))
    assert condition_of(disabled, "Ready") == ("True", "Disabled")
    assert condition_of(disabled, "Recording") == ("False", "Disabled")
    unread = recording_status(recorded(), files(error="cannot read /rec/cams/front: denied"))
    assert condition_of(unread, "Recording") == ("Unknown", "FilesUnreadable")
    assert unread.segments is None
    unseen = recording_status(recorded(), None)
    assert condition_of(unseen, "Recording") == ("Unknown", "NotObserved")
    assert condition_of(unseen, "DiskLow") == ("Unknown", "NotObserved")


def test_segments_mediamtx_lists_when_camctl_cannot_read_them() -> None:
    unread = files(error="cannot read /rec: permission denied")
    listed = listed_by_mediamtx(unread, [(NOW - timedelta(seconds=s)).isoformat() for s in (9, 3)])
    status = recording_status(recorded(), listed)
    assert status.segments is not None and status.segments.count == 2
    assert status.segments.bytes is None  # sizes unknown: not a misleading 0
    assert condition_of(status, "Recording") == ("Unknown", "FilesUnreadable")


def test_disk_low_below_the_threshold() -> None:
    low = recording_status(recorded(), files(5, free=4))
    assert condition_of(low, "DiskLow") == ("True", "DiskLow")
    cond = find(low.conditions, "DiskLow")
    assert cond is not None and cond.message == "4% free, under the 10% threshold"
    strict = Settings(node_name="edge-01", disk_low_percent=60)
    assert condition_of(recording_status(recorded(), files(5), settings=strict), "DiskLow") == (
        "True",
        "DiskLow",
    )


def test_a_root_outside_the_allowed_roots_is_refused_and_never_recorded() -> None:
    world = recorded(root="/etc")
    paths, owned = converged_paths(world)
    result = run(world, [device("S1")], paths, owned)
    status = result.statuses[REC]
    assert isinstance(status, RecordingStatus)
    assert condition_of(status, "Ready") == ("False", "RootNotAllowed")
    assert condition_of(status, "Stalled") == ("True", "RootNotAllowed")
    assert paths["cams/front"]["record"] is False
    assert "recordPath" not in paths["cams/front"]  # nothing of /etc is ever written
    assert record_targets(world, SETTINGS) == {}
    mine = Settings(node_name="edge-01", recordings_roots=("/srv/rec", "/etc"))
    assert record_targets(world, mine) == {REC: RecordTarget("/etc", "cams/front", "fmp4")}


def test_recording_root_defaults_to_the_first_allowed_root() -> None:
    world = recorded()
    mine = Settings(node_name="edge-01", recordings_roots=("/srv/rec", "/mnt/usb"))
    first = run(world, [device("S1")], {}, {}, settings=mine)
    assert first.actions[0].config["recordPath"] == "/srv/rec/%path/%Y-%m-%d_%H-%M-%S-%f"
    assert record_targets(recorded(root="/mnt/usb/cams"), mine)[REC].root == "/mnt/usb/cams"


def test_disabling_a_recording_patches_record_only() -> None:
    paths, owned = converged_paths(recorded())
    (action,) = run(recorded(enabled=False), [device("S1")], paths, owned).actions
    assert action.op == "patch" and dict(action.config) == {"record": False}


def test_removing_a_recording_turns_record_off_and_keeps_its_retention() -> None:
    paths, owned = converged_paths(recorded())
    (action,) = run(WORLD, [device("S1")], paths, owned).actions
    assert action.op == "patch" and dict(action.config) == {"record": False}


def test_losing_recordings_is_withheld_while_documents_are_broken_or_unsettled() -> None:
    """Turning recording off or shortening retention needs a clean, settled desired state;
    the rest of the same patch is not held back."""
    paths, owned = converged_paths(recorded())
    paths["cams/front"]["runOnInit"] = "drifted"
    for world, settled, reason in [
        (replace(WORLD, clean=False), True, "unclean"),
        (WORLD, False, "unsettled"),
        (replace(recorded(retention="1d"), clean=False), True, "unclean"),
    ]:
        result = run(world, [device("S1")], paths, owned, settled=settled)
        (action,) = result.actions
        assert action.op == "patch" and set(action.config) == {"runOnInit"}
        (withheld,) = result.withheld
        assert withheld.reason == reason
        assert set(withheld.action.config) & {"record", "recordDeleteAfter"}
    longer = run(replace(recorded(retention="30d"), clean=False), [device("S1")], paths, owned)
    assert longer.withheld == [] and longer.actions[0].config["recordDeleteAfter"] == "30d"


def test_transition_time_moves_only_when_status_changes() -> None:
    paths, owned = converged_paths()
    first = run(WORLD, [device("S1")], paths, owned)
    later = plan(
        WORLD, [device("S1")], paths, owned, SETTINGS, NOW + timedelta(hours=1), first.statuses
    )
    assert find(later.statuses[FRONT].conditions, "Ready") == find(
        first.statuses[FRONT].conditions, "Ready"
    )
    gone = plan(WORLD, [], paths, owned, SETTINGS, NOW + timedelta(hours=2), later.statuses)
    cond = find(gone.statuses[FRONT].conditions, "Ready")
    assert cond is not None and cond.last_transition_time == NOW + timedelta(hours=2)
    assert isinstance(gone.statuses[Ref("Camera", "default", "front")], CameraStatus)


# --- properties ----------------------------------------------------------------------

SERIALS = [f"S{i}" for i in range(5)]
NAMES = [f"c{i}" for i in range(5)]
SOURCES = ["a.yaml", "b.yaml"]


@st.composite
def worlds(
    draw: st.DrawFn,
) -> tuple[list[tuple[Any, str]], list[Device], dict[str, Any], dict[str, Owner]]:
    """Declared resources (with sources), devices, MediaMTX's paths and camctl's inventory."""
    resources: list[tuple[Any, str]] = []
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True)):
        resources.append(
            (camera(name, draw(st.sampled_from(SERIALS))), draw(st.sampled_from(SOURCES)))
        )
        if draw(st.booleans()):
            spec = {
                "camera": name,
                "path": f"cams/{name}",
                "mode": draw(st.sampled_from(["always", "onDemand"])),
                "adopt": draw(st.booleans()),
            }
            resources.append((doc("Stream", name, **spec), draw(st.sampled_from(SOURCES))))
            if draw(st.booleans()):
                rec = doc(
                    "Recording",
                    name,
                    stream=name,
                    retention=draw(st.sampled_from(["1d", "7d", "0s"])),
                )
                resources.append((rec, draw(st.sampled_from(SOURCES))))
    devices = [device(s) for s in draw(st.lists(st.sampled_from(SERIALS), unique=True))]
    names = [f"cams/{n}" for n in NAMES] + ["other/one", "other/two"]
    paths = {
        p: {
            "name": p,
            "source": "publisher",
            "runOnInit": draw(st.sampled_from(["", "x"])),
            **RESOLVED_EXTRAS,
        }
        for p in draw(st.lists(st.sampled_from(names), unique=True))
    }
    owned = {
        p: Owner(f"Stream/{p.split('/')[1]}", draw(st.sampled_from(SOURCES)))
        for p in draw(st.lists(st.sampled_from(names), unique=True))
    }
    return resources, devices, paths, owned


@settings(max_examples=300, deadline=None)
@given(worlds(), st.booleans(), st.booleans())
def test_planning_again_after_applying_yields_nothing(
    world: Any, clean: bool, settled: bool
) -> None:
    resources, devices, paths, owned = world
    snapshot, _ = assemble(resources, clean=clean)
    first = run(snapshot, devices, paths, owned, settled=settled)
    after = mediamtx_after(paths, first.actions)
    second = run(snapshot, devices, after, first.inventory_after(), settled=settled)
    assert second.actions == []
    assert second.inventory == first.inventory_after()
    assert second.withheld == first.withheld


@settings(max_examples=300, deadline=None)
@given(worlds(), st.booleans(), st.booleans())
def test_unowned_paths_are_never_touched_and_untrusted_documents_never_destroy(
    world: Any, clean: bool, settled: bool
) -> None:
    """Deletes, recording turned off and shorter retention need a settled desired state; and
    unless a camera was unplugged (a fact, not a reading of documents), a clean one."""
    resources, devices, paths, owned = world
    snapshot, _ = assemble(resources, clean=clean)
    result = run(snapshot, devices, paths, owned, settled=settled)
    adopters = {s.path for s in snapshot.streams.values() if s.spec.adopt}
    unplugged = {
        s.path for key, s in snapshot.streams.items() if ready(result, key)[1] == "CameraNotReady"
    }
    for action in result.actions:
        if action.op == "add":
            assert action.path not in paths
        elif action.op == "patch":
            assert action.path in owned or action.path in adopters
            if not (clean and settled):
                assert not destructive(action.config, paths[action.path])
        else:
            assert action.path in owned
            assert settled and (clean or action.path in unplugged)


@settings(max_examples=200, deadline=None)
@given(worlds(), st.randoms(use_true_random=False))
def test_the_order_of_documents_does_not_change_the_plan(world: Any, rnd: Any) -> None:
    resources, devices, paths, owned = world
    shuffled = list(resources)
    rnd.shuffle(shuffled)
    a = run(assemble(resources)[0], devices, paths, owned)
    b = run(
        assemble(shuffled)[0], list(reversed(devices)), dict(reversed(list(paths.items()))), owned
    )
    assert a.actions == b.actions
    assert a.statuses == b.statuses
    assert a.inventory == b.inventory


def test_a_stream_the_planner_fails_on_waits_and_the_others_converge(
    monkeypatch: Any,
) -> None:
    """No exception escapes a pass: a bug met planning one Stream keeps its path as it is."""
    two = desired(
        *WORLD.cameras.values(),
        *WORLD.streams.values(),
        camera("back", "S2"),
        doc("Stream", "back", camera="back", path="cams/back"),
    )
    paths, owned = converged_paths(two, [device("S1"), device("S2")])
    real = plan_streams.path_config

    def failing(stream: Any, *args: Any) -> Any:
        if stream.metadata.name == "front":
            raise RuntimeError("a bug")
        return real(stream, *args)

    monkeypatch.setattr(plan_streams, "path_config", failing)
    paths["cams/back"]["runOnInit"] = "drifted"
    paths["cams/front"]["runOnInit"] = "drifted"
    result = run(two, [device("S1"), device("S2")], paths, owned)
    assert [(a.op, a.path) for a in result.actions] == [("patch", "cams/back")]
    assert ready(result, FRONT) == ("Unknown", "InternalError")
    assert "cams/front" in result.inventory
