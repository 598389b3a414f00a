"""The watchdog in the planner: passes at chosen times over MediaMTX runtime states.

Each test drives `plan` pass after pass as the loop does (the statuses of one pass are the
`previous` of the next, and the next pass comes at the plan's `recheck` unless the test
says otherwise), feeding it runtime states of the path as /v3/paths/list words them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loop import QUIET, Harness, copy_docs, running
from test_plan import NOW, SETTINGS, camera, converged_paths, desired, device, doc

from controller.api.conditions import Condition, find
from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.kinds import Ref, Status, StreamStatus
from controller.api.ownership import Owner
from controller.output import action_json, plan_text
from controller.reconcile.plan import Plan, plan
from controller.sinks import statusfiles
from controller.sinks.statusfiles import StatusStore
from controller.testing.harness import eventually
from controller.testing.mediamtx import MediaMTXEmulator

FRONT = Ref("Stream", "default", "front")
PATH = "cams/front"


def world(**spec: Any) -> Desired:
    stream = doc("Stream", "front", camera="front", path=PATH, **spec)
    return desired(camera("front", "S1"), stream)


def live(received: int, *, online: bool = True, readers: int = 0) -> dict[str, Any]:
    """The runtime state of the path, as MediaMTX v1.20 answers /v3/paths/list."""
    since = "2026-11-28T11:00:00Z" if online else None
    return {
        PATH: {
            "name": PATH,
            "online": online,
            "ready": online,
            "onlineTime": since,
            "readyTime": since,
            "inboundBytes": received,
            "readers": [{"type": "rtspSession", "id": str(i)} for i in range(readers)],
        }
    }


@dataclass
class Passes:
    """Planning passes over one world, each one's statuses the next one's `previous`."""

    world: Desired
    devices: list[Device] = field(default_factory=lambda: [device("S1")])
    owned: bool = True
    previous: dict[Ref, Status] = field(default_factory=dict)
    paths: dict[str, Any] = field(init=False)
    inventory: dict[str, Owner] = field(init=False)
    last: Plan | None = None

    def __post_init__(self) -> None:
        self.paths, self.inventory = converged_paths(self.world)

    def at(
        self, when: datetime, runtime: Mapping[str, Any], sampled: datetime | None = None
    ) -> Plan:
        """A pass at `when` (whole seconds, as the loop's clock), its runtime read at
        `sampled` (to the microsecond; `when` if not said)."""
        owned = self.inventory if self.owned else {}
        result = plan(
            self.world,
            self.devices,
            self.paths,
            owned,
            SETTINGS,
            when,
            self.previous,
            runtime,
            sampled=sampled,
        )
        self.previous, self.last = result.statuses, result
        return result

    def status(self) -> StreamStatus:
        assert self.last is not None
        status = self.last.statuses[FRONT]
        assert isinstance(status, StreamStatus)
        return status

    def healthy(self) -> Condition:
        cond = find(self.status().conditions, "Healthy")
        assert cond is not None
        return cond

    def restarts(self) -> list[str]:
        assert self.last is not None
        return [a.path for a in self.last.actions if a.op == "restart"]


def seconds(n: float) -> datetime:
    return NOW + timedelta(seconds=n)


def test_stall_restart_healthy_again() -> None:
    p = Passes(world())
    first = p.at(seconds(0), live(1000))
    assert first.actions == []
    assert (p.healthy().status, p.healthy().reason) == ("True", "Publishing")
    assert first.recheck == seconds(15), "the next look: when the start-up window ends"
    flowing = p.at(seconds(5), live(2000))  # bytes grow: the window starts again
    assert flowing.recheck is None, "while video flows, the passes made anyway suffice"
    p.at(seconds(19), live(2000))
    assert p.restarts() == [] and p.healthy().status == "True", "14 s quiet: not yet"
    assert p.last and p.last.recheck == seconds(20)

    stalled = p.at(seconds(20), live(2000))
    (restart,) = stalled.actions
    assert (restart.op, restart.path, restart.stream) == ("restart", PATH, FRONT)
    kept = ("source", "runOnInit", "runOnInitRestart", "record")
    assert {f: restart.config[f] for f in kept} == {f: p.paths[PATH][f] for f in kept}, (
        "it adds back the path camctl renders"
    )
    assert (p.healthy().status, p.healthy().reason) == ("False", "Stalled")
    assert p.status().restarts == 1 and p.status().last_restart_time == seconds(20)

    # The same stall seen again, before the new publisher sent anything: no second restart.
    p.at(seconds(21), live(2000))
    assert p.restarts() == [] and p.status().restarts == 1
    p.at(seconds(34), live(2000))
    assert p.restarts() == []

    p.at(seconds(26), live(700))  # the recreated path: a new publisher, a new count
    assert (p.healthy().status, p.healthy().reason) == ("True", "Publishing")
    assert p.status().restarts == 1, "the count stays"


def test_a_path_without_a_publisher_is_restarted_as_not_publishing() -> None:
    p = Passes(world())
    p.at(seconds(0), live(0, online=False))
    assert (p.healthy().status, p.healthy().reason) == ("Unknown", "Starting")
    p.at(seconds(15), live(0, online=False))
    assert p.restarts() == [PATH]
    assert (p.healthy().status, p.healthy().reason) == ("False", "NotPublishing")


def test_repeated_stalls_back_off_exponentially_up_to_ten_minutes() -> None:
    p = Passes(world())
    p.at(NOW, live(5000))
    restarted = []
    while (when := p.last.recheck if p.last else None) is not None and when < seconds(2 * 3600):
        p.at(when, live(5000))  # the publisher never comes back
        if p.restarts():
            restarted.append((when - NOW).total_seconds())
    gaps = [b - a for a, b in itertools.pairwise(restarted)]
    assert restarted[0] == 15
    assert gaps[:7] == [15, 30, 60, 120, 240, 480, 600]
    assert set(gaps[7:]) == {600}, "at most 10 minutes"
    assert p.status().restarts == len(restarted)
    assert "no sooner than" in p.healthy().message or p.restarts()


def test_an_hour_healthy_ends_the_streak() -> None:
    p = Passes(world())
    p.at(seconds(0), live(1))
    for t in (15, 30, 60):  # three restarts: the next would wait 60 s
        p.at(seconds(t), live(1))
        assert p.restarts() == [PATH], t
    received = 1
    for t in range(61, 61 + 3600 + 60, 10):  # healthy for an hour and a minute
        received += 10_000
        p.at(seconds(t), live(received))
    assert p.healthy().status == "True"
    memory = p.status().watchdog
    assert memory is not None and (memory.backoff, memory.quiet_since) == (0, None)
    last_growth = p.status().sample_time
    assert last_growth is not None
    p.at(last_growth + timedelta(seconds=14), live(received))
    assert p.restarts() == []
    p.at(last_growth + timedelta(seconds=15), live(received))
    assert p.restarts() == [PATH], "a fresh streak: restarted after the stall window only"


def test_a_camera_unplugged_while_stalled_is_not_restarted() -> None:
    p = Passes(world())
    p.at(seconds(0), live(10))
    p.at(seconds(10), live(10))
    p.devices = []
    for t in (15, 30, 60, 600):
        p.at(seconds(t), live(10))
        assert p.restarts() == [], t
        assert (p.healthy().status, p.healthy().reason) == ("Unknown", "DeviceAbsent")
    p.devices = [device("S1")]  # back: the watch starts again, with a full window
    p.at(seconds(601), live(10))
    p.at(seconds(615), live(10))
    assert p.restarts() == []
    p.at(seconds(616), live(10))
    assert p.restarts() == [PATH]


def test_an_unowned_path_that_stalls_is_never_touched() -> None:
    p = Passes(world(), owned=False)
    p.paths[PATH] = {**p.paths[PATH], "runOnInit": "ffmpeg -i rtsp://elsewhere/cam"}  # not ours
    for t in (0, 15, 30, 3600):
        result = p.at(seconds(t), live(10))
        assert result.actions == [], t
        ready = find(p.status().conditions, "Ready")
        assert ready is not None and ready.reason == "PathConflict"
        assert (p.healthy().status, p.healthy().reason) == ("Unknown", "NotOwned")
        assert result.recheck is None


def test_watchdog_off_leaves_a_stalled_stream_alone() -> None:
    p = Passes(world(health={"stallAfter": "0s"}))
    for t in (0, 15, 30, 3600):
        result = p.at(seconds(t), live(10, online=t < 20))
        assert result.actions == [] and result.recheck is None
        assert (p.healthy().status, p.healthy().reason) == ("Unknown", "WatchdogOff")


def test_stall_after_sets_the_window() -> None:
    p = Passes(world(health={"stallAfter": "1m"}))
    p.at(seconds(0), live(10))
    p.at(seconds(59), live(10))
    assert p.restarts() == []
    p.at(seconds(60), live(10))
    assert p.restarts() == [PATH]


def test_an_on_demand_stream_is_watched_only_while_it_has_readers() -> None:
    p = Passes(world(mode="onDemand"))
    for t in (0, 15, 30, 300):
        result = p.at(seconds(t), live(0, online=False))
        assert result.actions == [] and result.recheck is None
        assert (p.healthy().status, p.healthy().reason) == ("Unknown", "NoReaders")
    p.at(seconds(301), live(0, online=False, readers=1))  # a reader: the publisher should start
    assert (p.healthy().status, p.healthy().reason) == ("Unknown", "Starting")
    p.at(seconds(316), live(0, online=False, readers=1))
    assert p.restarts() == [PATH]
    assert p.healthy().reason == "NotPublishing"


def test_nothing_is_restarted_in_a_pass_that_writes_the_path() -> None:
    p = Passes(world())
    p.at(seconds(0), live(10))
    p.world = world(video={"fps": 15})  # an edit: the patch restarts the publisher anyway
    result = p.at(seconds(20), live(10))
    assert [a.op for a in result.actions] == ["patch"]
    assert (p.healthy().status, p.healthy().reason) == ("True", "Publishing")


def test_live_figures_readers_bitrate_uptime() -> None:
    p = Passes(world())
    p.at(seconds(0), live(1_000_000, readers=2))
    status = p.status()
    assert (status.readers, status.bytes_received, status.bitrate) == (2, 1_000_000, None)
    assert status.ready_since is not None and status.ready_since.isoformat().startswith(
        "2026-11-28T11:00:00"
    )
    p.at(seconds(4), live(2_000_000, readers=3))
    status = p.status()
    assert status.bitrate == 2_000_000, "1 MB in 4 s: 2 Mbit/s"
    assert (status.readers, status.sample_time) == (3, seconds(4))
    p.at(seconds(4), live(2_100_000))  # the same second: not a new sample
    assert p.status().bitrate == 2_000_000 and p.status().bytes_received == 2_000_000
    p.at(seconds(5), live(100))  # the counter started again (a new path): no bitrate
    assert p.status().bitrate is None


@settings(max_examples=200, deadline=None)
@given(
    rate=st.integers(min_value=1_000, max_value=50_000_000),
    gaps=st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=2, max_size=12),
)
def test_the_bitrate_is_the_publisher_s_whatever_the_times_of_the_passes(
    rate: int, gaps: list[float]
) -> None:
    """Passes at any times (a second and a tenth apart used to straddle two whole seconds
    and halve the rate): every bitrate shown is the publisher's, in bits per second."""
    p = Passes(world())
    read = 0.0
    for gap in gaps:
        read += gap
        sampled = seconds(read)
        p.at(sampled.replace(microsecond=0), live(int(read * rate)), sampled)
        shown = p.status().bitrate
        if shown is not None:
            assert shown == pytest.approx(rate * 8, rel=0.01, abs=16), (read, shown)


def test_a_converged_quiet_plan_changes_no_status_object() -> None:
    """A Stream whose figures did not move keeps its very status object: nothing to write."""
    p = Passes(world())
    p.at(seconds(0), live(1000))
    before = p.status()
    p.at(seconds(0), live(1000))
    assert p.status() is before


# --- The running controller against the emulator (HTTP), on the passes it makes itself -----


@asynccontextmanager
async def watched(tmp_path: Path, docs: Path) -> AsyncIterator[Harness]:
    """The controller on `docs` and the example devices, with no MediaMTX polling and no
    resync within the test (QUIET): passes come from events and the planner's rechecks.
    MediaMTX already has a path `cams/lobby` that camctl did not create."""
    emu = MediaMTXEmulator()
    emu.set_path("cams/lobby", {"runOnInit": "ffmpeg -i rtsp://elsewhere/cam -f rtsp x"})
    async with running(tmp_path, docs, timing=QUIET, emu=emu, ready=_four_paths) as h:
        yield h


def _four_paths(h: Harness) -> bool:
    return len(h.emu.path_names()) == 4


LOBBY = """---
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {name: lobby}
spec:
  camera: workshop
  path: cams/lobby
  health: {stallAfter: 1s}
"""


async def quiet_seen(h: Harness, key: Ref) -> int:
    """Passes a second apart, as the resync makes them, until one sees the Stream's bytes
    standing still; the trace mark after it."""
    for _ in range(5):
        await h.settle()
        status = h.controller.statuses[key]
        if isinstance(status, StreamStatus) and status.watchdog and status.watchdog.quiet_since:
            return h.mark()
        await asyncio.sleep(1.1)  # statuses are to the second: one sample a second
    raise AssertionError("the bytes were never seen standing still")


@pytest.mark.anyio
async def test_a_stalled_publisher_is_restarted_by_the_running_controller(tmp_path: Path) -> None:
    docs = copy_docs(tmp_path / "gitops")
    streams = docs / "streams.yaml"
    front = "  mode: always              # runOnInit: ffmpeg runs all the time\n"
    streams.write_text(
        streams.read_text().replace(front, front + "  health: {stallAfter: 3s}\n") + LOBBY
    )
    async with watched(tmp_path, docs) as h:
        front_door = Ref("Stream", "default", "front-door")

        def front(field: str) -> Any:
            status = h.controller.statuses.get(front_door)
            if field == "healthy":
                return find(status.conditions, "Healthy").status if status else None  # type: ignore[union-attr]
            return getattr(status, field, None)

        await eventually(lambda: front("healthy") == "True")
        lobby = h.condition("Stream", "lobby")
        assert lobby.reason == "PathConflict"
        h.emu.stall("cams/lobby")  # someone else's path: camctl never touches it
        mark, since = len(h.emu.requests), h.mark()

        h.emu.stall("cams/front-door")
        # Passes a second apart (as the resync or any event makes them) see the bytes stand
        # still; then, with no event and no resync (60 s), the pass the watchdog asks for
        # when the window ends restarts it.
        since = await quiet_seen(h, front_door)
        assert h.emu.stalled("cams/front-door"), "not yet: the window is 3 s"
        await eventually(lambda: not h.emu.stalled("cams/front-door"))
        await eventually(lambda: front("restarts") == 1)
        await eventually(lambda: h.woken_by("recheck", since))  # its report comes last
        await eventually(lambda: front("healthy") == "True")  # the new publisher sends
        writes = h.writes(mark)
        assert writes == [
            ("DELETE", "/v3/config/paths/delete/cams/front-door", None),
            ("POST", "/v3/config/paths/add/cams/front-door", writes[1][2]),
        ], "recreated: deleted, then added, and nothing else written"
        assert writes[1][2]["runOnInit"] == h.emu.stored("cams/front-door")["runOnInit"]
        reads = {
            raw.partition("?")[0] for method, raw, _ in h.emu.requests[mark:] if method == "GET"
        }
        assert reads == {"/v3/config/paths/list", "/v3/paths/list"}, "no request of its own"
        await eventually(
            lambda: h.status_file("Stream", "front-door")["status"].get("restarts") == 1
        )
        assert h.sample("camctl_actions_total", op="restart", result="ok") == 1
        assert h.sample("camctl_drift_corrections_total") == 0, "a restart is no drift"

        # Stalled again: restarted again, once, after the window (and the backoff).
        h.emu.stall("cams/front-door", online=False)
        await h.settle()  # sees the publisher gone: looks again when the window ends
        await eventually(lambda: not h.emu.stalled("cams/front-door"))
        await eventually(lambda: front("restarts") == 2)
        assert (
            h.emu.stalled("cams/lobby") and h.condition("Stream", "lobby").reason == "PathConflict"
        )
        assert not [w for w in h.writes(mark) if "cams/lobby" in w[1]]


def test_plan_output_names_a_restart() -> None:
    p = Passes(world())
    p.at(seconds(0), live(10))
    result = p.at(seconds(15), live(10))
    text = plan_text(result)
    assert "-/+ restart cams/front  (Stream/front)" in text
    assert "its publisher stalled: the path is deleted and added again" in text
    assert text.endswith("Plan: 0 to add, 0 to change, 0 to delete, 1 to restart.")
    assert action_json(result.actions[0]) == {
        "op": "restart",
        "path": PATH,
        "stream": "Stream/front",
        "diff": {},
    }


def test_status_files_take_live_figures_alone_at_most_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(statusfiles.time, "monotonic", lambda: clock[0])
    store = StatusStore(tmp_path)
    p = Passes(world())
    p.at(seconds(0), live(1000))
    assert store.write(p.previous) == 2  # the Camera and the Stream
    written = store.path_of(FRONT).read_text()
    p.at(seconds(5), live(2000))  # bytes, bitrate, sample time: figures only
    assert store.write(p.previous) == 0 and store.path_of(FRONT).read_text() == written
    clock[0] += statusfiles.COUNTER_INTERVAL - 1
    assert store.write(p.previous) == 0, "a quiet pass: the very status held back"
    clock[0] += 1
    assert store.write(p.previous) == 1, "a minute later, the figures are written"
    assert '"bytesReceived": 2000' in store.path_of(FRONT).read_text()
    p.at(seconds(6), live(2000, online=False))  # no publisher: a condition changes
    p.at(seconds(30), live(2000, online=False))  # stalled: restarted
    assert store.write(p.previous) == 1, "a change beyond the figures is written at once"
    assert '"restarts": 1' in store.path_of(FRONT).read_text()


def network_world(**spec: Any) -> Desired:
    gate = doc("Camera", "gate", url="rtsp://192.0.2.10:554/live")
    return desired(gate, doc("Stream", "front", camera="gate", path=PATH, **spec))


def pulling(received: int, *, reached: bool) -> dict[str, Any]:
    """A path pulling a network camera: MediaMTX has the source either way, and is
    connected (`ready`) only when it reaches the camera."""
    item = live(received)[PATH]
    return {PATH: item | {"ready": reached, "available": reached}}


def test_a_network_camera_out_of_reach_is_left_to_mediamtx() -> None:
    p = Passes(network_world())
    assert p.paths[PATH]["source"] == "rtsp://192.0.2.10:554/live", "passed through"
    for t in (0, 15, 30, 600):
        result = p.at(seconds(t), pulling(0, reached=False))
        assert result.actions == [], t  # MediaMTX keeps trying by itself
    healthy = p.healthy()
    assert (healthy.status, healthy.reason) == ("False", "NotPublishing")
    assert "MediaMTX keeps trying to reach the camera" in healthy.message
    assert p.last is not None and p.last.recheck is None


def test_a_network_camera_connected_but_silent_is_restarted() -> None:
    p = Passes(network_world())
    p.at(seconds(0), pulling(5000, reached=True))
    p.at(seconds(15), pulling(5000, reached=True))
    assert p.restarts() == [PATH]
    assert p.healthy().reason == "Stalled"
