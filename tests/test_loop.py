"""The continuous controller in-process: file edits, drift, hotplug, status, counters, stop.

Each test runs `Controller.run` as a task against a MediaMTX emulator on the same event
loop, with private copies of examples/gitops and examples/devices.yaml and its own state
directory. Tests wait for outcomes (`eventually`) rather than sleeping, with wide margins;
the only time asserted is the stop deadline. The periodic resync is longer than any wait,
so each test shows its own trigger at work (the file watch, the device watch, the MediaMTX
poll), not the resync covering for a broken one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

from controller import wiring
from controller.api.conditions import Condition
from controller.api.kinds import DeviceLink, Ref
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.report import Report
from controller.testing.harness import eventually
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"
PATHS = ["cams/front-door", "cams/garage", "cams/workshop"]
FRONT_DOOR_BY_ID = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0"
TIMING = Timing(resync=60, poll=0.05, drift=0.2, backoff_min=0.05, backoff_max=0.5, settle=0.2)
# No MediaMTX polling: only passes talk to MediaMTX, so a test can tell their requests apart.
QUIET = replace(TIMING, poll=60.0, drift=60.0)
_unique = itertools.count()


class Traces:
    """A sink keeping the wake-up reasons of each finished pass, for tests to wait on."""

    def __init__(self) -> None:
        self.traces: list[list[str]] = []

    async def publish(self, report: Report) -> None:
        self.traces.append(list(report.health.last_reasons))


@dataclass
class Harness:
    emu: MediaMTXEmulator
    docs: Path
    devices: Path
    state: Path
    controller: Controller
    admin: MediaMTXClient  # a client of its own, for changes behind camctl's back
    stop: asyncio.Event
    task: asyncio.Task[None]
    traces: Traces

    def converged(self) -> bool:
        statuses = self.controller.statuses
        return (
            self.emu.path_names() == PATHS
            and len(statuses) == 8
            and all(ready_of(s.conditions) == "True" for s in statuses.values())
        )

    def condition(self, kind: str, name: str, type_: str = "Ready") -> Condition:
        status = self.controller.statuses[Ref(kind, "default", name)]
        return next(c for c in status.conditions if c.type == type_)

    def status_file(self, kind: str, name: str) -> dict[str, Any]:
        path = self.state / "status" / kind / "default" / f"{name}.json"
        document: dict[str, Any] = json.loads(path.read_text())
        return document

    def ready_in_file(self, kind: str, name: str) -> dict[str, Any]:
        conditions: list[dict[str, Any]] = self.status_file(kind, name)["status"]["conditions"]
        return next(c for c in conditions if c["type"] == "Ready")

    def controller_file(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.state / "status/controller.json").read_text())
        return document

    def configs(self) -> dict[str, dict[str, Any]]:
        return {name: self.emu.stored(name) for name in self.emu.path_names()}

    def writes(self, since: int) -> list[tuple[str, str, Any]]:
        return [r for r in self.emu.requests[since:] if r[0] != "GET"]

    def sample(self, name: str, **labels: str) -> float:
        value = self.controller.metrics.registry.get_sample_value(name, labels)
        return value or 0.0

    def edit(self, file: str, old: str, new: str) -> None:
        path = self.docs / file
        text = path.read_text()
        assert old in text, (file, old)
        path.write_text(text.replace(old, new))

    def mark(self) -> int:
        return len(self.traces.traces)

    def woken_by(self, prefix: str, since: int) -> bool:
        """Whether a pass finished after trace `since` was woken by a reason like `prefix`."""
        reasons = itertools.chain.from_iterable(self.traces.traces[since:])
        return any(r.startswith(prefix) for r in reasons)

    async def settle(self) -> None:
        """Wait for one whole pass that starts after everything done so far."""
        reason = f"test: settle {next(_unique)}"
        since = self.mark()
        self.controller.trigger(reason)
        await eventually(lambda: self.woken_by(reason, since))


def ready_of(conditions: list[Condition]) -> str:
    return next(c.status for c in conditions if c.type == "Ready")


def copy_docs(dest: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES, dest))


def write_devices(path: Path, front_door: str | None) -> None:
    """The example cameras, with the front-door one at node `front_door` or unplugged (None)."""
    front, *rest = YAML(typ="safe").load(DEVICES)["devices"]
    listed = rest if front_door is None else [{**front, "node": front_door}, *rest]
    path.write_text(json.dumps({"devices": listed}))


@asynccontextmanager
async def running(
    tmp_path: Path,
    docs: Path | None = None,
    settings: Settings | None = None,
    timing: Timing = TIMING,
    emu: MediaMTXEmulator | None = None,
    ready: Callable[[Harness], bool] = Harness.converged,
) -> AsyncIterator[Harness]:
    """A controller on `docs` (default: a copy of the examples), yielded once `ready`
    (default: converged); `emu`: a MediaMTX emulator set up beforehand. Stopped on exit."""
    docs = docs or copy_docs(tmp_path / "gitops")
    devices = tmp_path / "dev" / "devices.yaml"  # a folder of its own: the device watch's root
    devices.parent.mkdir()
    shutil.copy(DEVICES, devices)
    state = tmp_path / "state"
    emu = emu or MediaMTXEmulator()
    url = await emu.start()
    stop = asyncio.Event()
    try:
        async with MediaMTXClient(url) as client, MediaMTXClient(url) as admin:
            traces = Traces()
            parts = wiring.Parts(
                wiring.files([docs]),
                wiring.devices(devices),
                state,
                settings or Settings(),
                timing,
                sinks=[traces],
            )
            controller = wiring.controller(parts, client)
            task = asyncio.create_task(controller.run(stop))
            h = Harness(emu, docs, devices, state, controller, admin, stop, task, traces)
            try:
                await eventually(lambda: ready(h))
                yield h
            finally:
                stop.set()
                await asyncio.wait_for(task, 5)  # and re-raise whatever ended run()
    finally:
        await emu.stop()


# --- file edits ----------------------------------------------------------------------


async def test_plain_write_sends_only_a_patch_of_the_record_fields(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        mark, since = len(h.emu.requests), h.mark()
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")
        await eventually(lambda: h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d")
        await eventually(lambda: h.woken_by("files: recordings.yaml", since))
        await h.settle()
        assert h.writes(mark) == [
            ("PATCH", "/v3/config/paths/patch/cams/front-door", {"recordDeleteAfter": "3d"})
        ]


async def test_rename_save_is_picked_up(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        streams = h.docs / "streams.yaml"
        swap = h.docs / ".streams.yaml.swp"  # as editors save: write aside, rename over
        swap.write_text(streams.read_text().replace("fps: 15", "fps: 10"))
        since = h.mark()
        os.replace(swap, streams)
        await eventually(lambda: "-framerate 10" in h.emu.resolved("cams/garage")["runOnDemand"])
        await eventually(lambda: h.woken_by("files:", since))


def configmap_swap(root: Path, source: Path) -> None:
    """Publish `source` as the kubelet updates a ConfigMap volume: new dir, ..data swapped."""
    old = (root / "..data").resolve() if (root / "..data").exists() else None
    new = root / f"..{datetime.now(UTC):%Y_%m_%d_%H_%M_%S.%f}"
    shutil.copytree(source, new)
    (root / "..data_tmp").symlink_to(new.name)
    os.replace(root / "..data_tmp", root / "..data")  # the atomic step
    if old is not None:
        shutil.rmtree(old)


async def test_configmap_data_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    first = copy_docs(tmp_path / "v1")
    second = copy_docs(tmp_path / "v2")
    recordings = second / "recordings.yaml"
    recordings.write_text(recordings.read_text().replace("retention: 7d", "retention: 3d"))
    mount = tmp_path / "configmap"
    mount.mkdir()
    configmap_swap(mount, first)
    for file in first.iterdir():
        (mount / file.name).symlink_to(Path("..data") / file.name)

    async with running(tmp_path, docs=mount) as h:
        since = h.mark()
        configmap_swap(mount, second)
        await eventually(lambda: h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d")
        await eventually(lambda: h.woken_by("files:", since))


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=camctl tests", "-c", "user.email=tests@camctl.invalid"]
    subprocess.run(["git", *identity, "-c", "commit.gpgsign=false", *args], cwd=repo, check=True)


async def test_git_checkout_of_another_revision_is_applied(tmp_path: Path) -> None:
    repo = copy_docs(tmp_path / "repo")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "cameras")
    git(repo, "checkout", "-q", "-b", "next")
    (repo / "streams.yaml").write_text(
        (repo / "streams.yaml").read_text().replace("fps: 30", "fps: 24")  # a rate it offers
    )
    (repo / "recordings.yaml").write_text(
        (repo / "recordings.yaml").read_text().replace("retention: 2d", "retention: 5d")
    )
    git(repo, "commit", "-q", "-am", "slower front door, longer garage retention")
    git(repo, "checkout", "-q", "main")

    async with running(tmp_path, docs=repo) as h:
        since = h.mark()
        git(repo, "checkout", "-q", "next")
        await eventually(
            lambda: (
                "-framerate 24" in h.emu.resolved("cams/front-door")["runOnInit"]
                and h.emu.resolved("cams/garage")["recordDeleteAfter"] == "5d"
            )
        )
        await eventually(lambda: h.woken_by("files:", since))
        git(repo, "checkout", "-q", "main")
        await eventually(
            lambda: (
                "-framerate 30" in h.emu.resolved("cams/front-door")["runOnInit"]
                and h.emu.resolved("cams/garage")["recordDeleteAfter"] == "2d"
            )
        )


async def test_broken_edit_keeps_the_last_good_version_until_fixed(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        streams = h.docs / "streams.yaml"
        good = streams.read_text()
        mark = len(h.emu.requests)
        h.edit("streams.yaml", "fps: 30", "fps: [30")  # a YAML syntax error
        located = re.compile(rf"{re.escape(str(streams))}:\d+:\d+: invalid YAML")
        await eventually(lambda: any(located.match(e) for e in h.controller.health.errors))
        assert h.controller_file()["status"]["errors"] == h.controller.health.errors
        assert h.writes(mark) == [] and h.emu.path_names() == PATHS

        # Its Streams stay in force: a Recording of one still applies, and all stay Ready;
        # but a shorter retention waits until every document loads cleanly.
        h.edit("recordings.yaml", "retention: 7d", "retention: 14d")
        await eventually(lambda: h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "14d")
        h.edit("recordings.yaml", "retention: 14d", "retention: 3d")
        withheld = "withheld: patch cams/front-door: the documents have errors"
        await eventually(lambda: any(n.startswith(withheld) for n in h.controller.health.notes))
        assert h.writes(mark) == [
            ("PATCH", "/v3/config/paths/patch/cams/front-door", {"recordDeleteAfter": "14d"})
        ]
        assert h.condition("Stream", "front-door").reason == "Withheld"
        assert h.condition("Stream", "garage").status == "True"

        streams.write_text(good.replace("fps: 30", "fps: 24"))
        await eventually(lambda: "-framerate 24" in h.emu.resolved("cams/front-door")["runOnInit"])
        await eventually(lambda: h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d")
        await eventually(lambda: h.controller.health.errors == [])
        assert h.controller_file()["status"]["errors"] == []
        assert h.emu.path_names() == PATHS


async def test_touch_without_a_change_writes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        since, writes = h.mark(), h.emu.write_count
        streams = h.docs / "streams.yaml"
        os.utime(streams)
        streams.write_bytes(streams.read_bytes())
        await eventually(lambda: h.woken_by("files:", since))
        await h.settle()
        assert h.emu.write_count == writes


# --- drift and MediaMTX trouble ------------------------------------------------------


async def patched(h: Harness) -> None:
    command = "ffmpeg -i /dev/null -f rtsp rtsp://localhost:$RTSP_PORT/$MTX_PATH"
    h.emu.set_path("cams/front-door", {**h.emu.stored("cams/front-door"), "runOnInit": command})


async def deleted(h: Harness) -> None:
    await h.admin.delete_path_config("cams/garage")


async def restarted(h: Harness) -> None:
    h.emu.restart()


@pytest.mark.parametrize("change", [patched, deleted, restarted], ids=lambda f: f.__name__)
async def test_drift_behind_camctls_back_is_put_back(
    tmp_path: Path, change: Callable[[Harness], Awaitable[None]]
) -> None:
    async with running(tmp_path) as h:
        before = h.configs()
        await change(h)
        assert h.configs() != before
        await eventually(lambda: h.configs() == before)


async def test_a_restart_is_noticed_by_its_closed_connection_not_a_timer(tmp_path: Path) -> None:
    """MediaMTX closes its connections when it stops: that wakes the look, not `drift`."""
    async with running(tmp_path, timing=replace(TIMING, drift=60.0)) as h:
        await asyncio.sleep(0.2)  # past the first looks: only a closed connection wakes one now
        await h.settle()  # and past the passes they woke
        before, started, since = h.configs(), time.monotonic(), h.mark()
        h.emu.restart()
        await eventually(lambda: h.configs() == before)
        assert time.monotonic() - started < 5  # the periodic look is a minute away
        # The look finds the paths gone and a new start time, or (its pooled HTTP connection
        # was dropped too) fails once: each wakes the pass that restores the paths. A pass's
        # trace is kept when it ends, after its writes: wait for it (the resync and the
        # periodic look are a minute away, so only the closed connection can give it).
        await eventually(lambda: h.woken_by("mediamtx: ", since))


async def test_a_quiet_look_at_mediamtx_is_one_request(tmp_path: Path) -> None:
    """Idle, each look asks for the path configs only: MediaMTX's start time is asked when
    something may have happened (a closed connection, changed configs, unreachable)."""
    async with running(tmp_path, timing=replace(TIMING, drift=0.1)) as h:
        await asyncio.sleep(0.3)  # past the first looks
        mark = len(h.emu.requests)
        await asyncio.sleep(1.0)
        asked = [path for _, path, _ in h.emu.requests[mark:]]
        assert sum(p.startswith("/v3/config/paths/list") for p in asked) >= 5
        assert "/v3/info" not in asked
        h.emu.restart()  # forgets the paths: the next look sees it, and asks the start time
        since = h.mark()
        await eventually(lambda: h.woken_by("mediamtx: restarted", since))


async def test_drift_right_after_start_is_noticed(tmp_path: Path) -> None:
    """A restart between the first pass and the poll's first look is not taken as normal.

    The first look comes `poll` (3 s) after the start, even when MediaMTX closes the watched
    connection sooner; it finds the paths gone. Were it taken as the baseline, nothing would
    restore them before the resync (a minute away): later looks would see no change."""
    async with running(tmp_path, timing=replace(TIMING, poll=3.0, drift=3.0)) as h:
        looked = [target for _, target, _ in h.emu.requests if target == "/v3/info"]
        assert not looked, "the poll looked before the restart: the test shows nothing"
        h.emu.restart()
        await eventually(h.converged)


async def test_mediamtx_down_for_a_while_then_back_on_the_same_port(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        assert h.emu.url
        port = urlsplit(h.emu.url).port
        await h.emu.stop()
        await eventually(lambda: h.controller.health.mediamtx_reachable is False)
        for key, status in h.controller.statuses.items():  # cameras do not need MediaMTX
            assert ready_of(status.conditions) == ("True" if key.kind == "Camera" else "Unknown")
        assert h.condition("Stream", "garage").reason == "MediaMTXUnreachable"
        assert h.controller_file()["status"]["mediamtxReachable"] is False
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")  # waits for MediaMTX
        failed = h.sample("camctl_passes_total", result="error")
        await eventually(lambda: h.sample("camctl_passes_total", result="error") >= failed + 3)
        assert sorted(Inventory(h.state).load()) == PATHS  # nothing given up

        await h.emu.start(port=port or 0)
        await eventually(h.converged)
        assert h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d"
        assert h.controller.health.mediamtx_reachable and h.controller.health.errors == []


async def test_mediamtx_back_is_noticed_without_waiting_out_the_backoff(tmp_path: Path) -> None:
    """A MediaMTX that answers again (same instance, nothing lost) ends the backoff at once."""
    async with running(tmp_path, timing=replace(TIMING, backoff_min=60, backoff_max=60)) as h:
        assert h.emu.url
        port = urlsplit(h.emu.url).port
        await eventually(lambda: h.woken_by("mediamtx:", 0))  # the poll has had a first look
        await h.emu.stop()
        await eventually(lambda: h.controller.health.mediamtx_reachable is False)
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")
        await eventually(lambda: h.sample("camctl_passes_total", result="error") >= 2)
        await h.emu.start(port=port or 0)
        await eventually(lambda: h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d")


async def test_server_errors_are_retried_with_backoff_until_converged(tmp_path: Path) -> None:
    async with running(tmp_path, timing=QUIET) as h:
        h.emu.fail_next(500, times=3)
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")
        await eventually(lambda: h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d")
        assert h.sample("camctl_passes_total", result="error") >= 1
        await eventually(h.converged)
        assert h.controller.health.errors == []


async def test_slow_mediamtx_still_converges(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        h.emu.delay = 0.3
        h.emu.restart()
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")
        await eventually(
            lambda: h.converged() and h.emu.resolved("cams/front-door")["recordDeleteAfter"] == "3d"
        )


# --- hotplug -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "opened"), [("byId", FRONT_DOOR_BY_ID), ("node", "/dev/video9")], ids=["byId", "node"]
)
async def test_unplugged_camera_comes_back_under_another_node(
    tmp_path: Path, link: DeviceLink, opened: str
) -> None:
    async with running(tmp_path, settings=Settings(device_link=link)) as h:
        since = h.mark()
        write_devices(h.devices, None)
        await eventually(
            lambda: (
                "cams/front-door" not in h.emu.path_names()
                and h.condition("Camera", "front-door").reason == "DeviceAbsent"
            )
        )
        assert h.condition("Camera", "front-door").status == "False"
        assert h.emu.path_names() == ["cams/garage", "cams/workshop"]
        await eventually(lambda: h.woken_by("devices:", since))

        write_devices(h.devices, "/dev/video9")
        await eventually(h.converged)
        command = shlex.split(h.emu.resolved("cams/front-door")["runOnInit"])
        assert command[command.index("-i") + 1] == opened
        stream = h.status_file("Stream", "front-door")["status"]
        assert (stream["device"], stream["deviceLink"]) == (opened, link)


# --- status --------------------------------------------------------------------------


def status_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root`, with its inode and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def test_status_files_one_per_resource_written_atomically(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        root = h.state / "status"
        kinds = {"Camera": 3, "Stream": 3, "Recording": 2}
        expected = {"controller.json"} | {
            f"{kind}/default/{name}.json"
            for kind in kinds
            for name in ("front-door", "garage", "workshop")[: kinds[kind]]
        }
        assert set(status_files(root)) == expected
        for key, status in h.controller.statuses.items():
            document = h.status_file(key.kind, key.name)
            assert document["kind"] == key.kind and document["metadata"]["name"] == key.name
            assert document["status"] == status.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )

        # A pass that changes no status rewrites no resource file.
        await h.settle()  # the pass after the first adds reads readers and bytes
        before = status_files(root)
        await h.settle()
        after = status_files(root)
        del before["controller.json"], after["controller.json"]
        assert after == before

        # A change replaces the file (a new inode: renamed into place), leaving no temp file.
        write_devices(h.devices, None)
        camera = "Camera/default/front-door.json"
        await eventually(lambda: h.ready_in_file("Camera", "front-door")["status"] == "False")
        assert status_files(root)[camera][0] != before[camera][0]
        assert set(status_files(root)) == expected


def ready_time(h: Harness, kind: str, name: str) -> str:
    return str(h.ready_in_file(kind, name)["lastTransitionTime"])


async def next_second(after: str) -> None:
    """Wait until the clock reads a later second than `after` (times are to the second)."""
    moment = datetime.fromisoformat(after)
    await eventually(lambda: datetime.now(UTC).replace(microsecond=0) > moment)


async def test_last_transition_time_changes_only_when_ready_flips(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        first = ready_time(h, "Camera", "front-door")
        await next_second(first)
        await h.settle()
        h.emu.restart()  # churn that leaves the camera's Ready as it was
        await eventually(h.converged)
        await h.settle()
        assert ready_time(h, "Camera", "front-door") == first

        write_devices(h.devices, None)
        await eventually(lambda: h.condition("Camera", "front-door").status == "False")
        flipped = ready_time(h, "Camera", "front-door")
        assert flipped > first
        await next_second(flipped)
        await h.settle()
        assert ready_time(h, "Camera", "front-door") == flipped


async def test_observed_generation_follows_the_spec(tmp_path: Path) -> None:
    async with running(tmp_path) as h:

        def generation(kind: str, name: str) -> int:
            return int(h.status_file(kind, name)["status"]["observedGeneration"])

        front, garage = generation("Recording", "front-door"), generation("Recording", "garage")
        camera = generation("Camera", "front-door")
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")
        await eventually(lambda: generation("Recording", "front-door") != front)
        assert generation("Recording", "garage") == garage

        since = h.mark()
        h.edit("cameras.yaml", "zone: entrance", "zone: porch")  # metadata, not spec
        await eventually(lambda: h.woken_by("files:", since))
        assert generation("Camera", "front-door") == camera

        h.edit("recordings.yaml", "retention: 3d", "retention: 7d")  # a hash, not a counter
        await eventually(lambda: generation("Recording", "front-door") == front)


# --- counters ------------------------------------------------------------------------


async def test_counters_of_passes_actions_and_drift(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        s = h.sample
        assert s("camctl_actions_total", op="add", result="ok") == 3
        assert s("camctl_drift_corrections_total") == 0
        assert abs(s("camctl_last_success_timestamp_seconds") - time.time()) < 60
        passes = s("camctl_passes_total", result="ok")
        assert passes >= 1

        await patched(h)
        await eventually(lambda: s("camctl_drift_corrections_total") == 1)
        assert s("camctl_actions_total", op="patch", result="ok") == 1

        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")  # declared: no drift
        await eventually(lambda: s("camctl_actions_total", op="patch", result="ok") == 2)
        await h.settle()
        assert s("camctl_drift_corrections_total") == 1
        assert s("camctl_passes_total", result="ok") > passes
        assert s("camctl_actions_total", op="patch", result="error") == 0


# --- lifecycle -----------------------------------------------------------------------


async def test_stop_ends_run_within_2s_even_during_a_pass(tmp_path: Path) -> None:
    async with running(tmp_path, timing=QUIET) as h:
        h.emu.delay = 1.0
        mark = len(h.emu.requests)
        h.edit("recordings.yaml", "retention: 7d", "retention: 3d")
        await eventually(lambda: len(h.emu.requests) > mark)  # a pass is waiting on MediaMTX
        started = time.monotonic()
        h.stop.set()
        await asyncio.wait_for(h.task, 2.0)
        assert time.monotonic() - started < 2.0


# --- recordings ----------------------------------------------------------------------


async def test_segments_mediamtx_writes_show_in_the_recording_status(tmp_path: Path) -> None:
    roots = (str(tmp_path / "recordings"),)
    async with running(tmp_path, settings=Settings(recordings_roots=roots)) as h:
        conf = h.emu.stored("cams/front-door")
        assert conf["recordPath"] == f"{roots[0]}/%path/%Y-%m-%d_%H-%M-%S-%f"
        assert h.condition("Recording", "front-door", "Recording").reason == "NotWriting"
        now = datetime.now(UTC)
        written = [h.emu.record("cams/front-door", now - timedelta(seconds=s)) for s in (3, 2)]
        await h.settle()
        assert h.condition("Recording", "front-door", "Recording").reason == "Writing"
        status = h.status_file("Recording", "front-door")["status"]
        assert status["segments"]["count"] == 2
        assert status["segments"]["bytes"] == sum(f.stat().st_size for f in written)
        assert status["directory"] == f"{roots[0]}/cams/front-door"
        assert status["disk"]["totalBytes"] >= status["disk"]["freeBytes"] > 0
        assert h.condition("Recording", "front-door", "DiskLow").reason == "DiskOk"

        # Turned off: only `record` changes, the files stay and are still counted.
        since = len(h.emu.requests)
        h.edit("recordings.yaml", "  format: fmp4\n", "  format: fmp4\n  enabled: false\n")
        await eventually(
            lambda: h.condition("Recording", "front-door", "Recording").reason == "Disabled"
        )
        await eventually(lambda: h.writes(since) != [])  # once the documents have settled
        assert [(m, body) for m, _, body in h.writes(since)] == [("PATCH", {"record": False})]
        assert all(f.exists() for f in written)
        assert h.status_file("Recording", "front-door")["status"]["segments"]["count"] == 2


async def test_segments_camctl_cannot_read_are_listed_as_mediamtx_lists_them(
    tmp_path: Path,
) -> None:
    """A root whose files camctl may not read (here a link out of the allowed root): the
    status counts what MediaMTX's /v3/recordings/get lists, and says why no more."""
    allowed, elsewhere = tmp_path / "recordings", tmp_path / "elsewhere"
    allowed.mkdir()
    elsewhere.mkdir()
    (allowed / "linked").symlink_to(elsewhere)
    docs = copy_docs(tmp_path / "gitops")
    recordings = docs / "recordings.yaml"
    marker = "  stream: front-door\n"
    recordings.write_text(
        recordings.read_text().replace(marker, f"{marker}  root: {allowed}/linked\n")
    )
    settings = Settings(recordings_roots=(str(allowed),))
    async with running(tmp_path, docs=docs, settings=settings) as h:
        now = datetime.now(UTC)
        for seconds in (3, 2):
            h.emu.record("cams/front-door", now - timedelta(seconds=seconds))
        assert len(list((elsewhere / "cams" / "front-door").iterdir())) == 2
        await h.settle()
        status = h.status_file("Recording", "front-door")["status"]
        assert status["segments"]["count"] == 2 and "bytes" not in status["segments"]
        writing = h.condition("Recording", "front-door", "Recording")
        assert (writing.status, writing.reason) == ("Unknown", "FilesUnreadable")
        assert "leads out of" in writing.message
        assert any(r[1].startswith("/v3/recordings/get/cams/front-door") for r in h.emu.requests)


async def test_disk_low_follows_the_real_disk_and_the_threshold(tmp_path: Path) -> None:
    """The real file system under the root: a threshold above its free share is DiskLow."""
    root = tmp_path / "recordings"
    usage = shutil.disk_usage(tmp_path)
    free = 100 * usage.free / usage.total
    for threshold, expected in ((min(free + 5, 100), "True"), (max(free - 5, 0), "False")):
        settings = Settings(recordings_roots=(str(root),), disk_low_percent=threshold)
        async with running(tmp_path / str(threshold), settings=settings) as h:
            low = h.condition("Recording", "front-door", "DiskLow")
            assert low.status == expected, (threshold, free, low.message)
            disk = h.status_file("Recording", "front-door")["status"]["disk"]
            assert abs(disk["freeBytes"] - usage.free) <= usage.total // 100  # the same disk
