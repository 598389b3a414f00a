"""Hotplug: the running Controller with udev under umockdev's Testbed, MediaMTX emulated.

The Controller runs in the test's event loop with `UdevDevices`, so cameras come and go as
umockdev uevents on a real pyudev monitor; the MediaMTX emulator serves from the same loop.
The periodic resync is far longer than any wait here, and MediaMTX polling (which wakes the
controller too) must not stand in for a lost uevent: each wait checks that a udev event woke
the controller, and that a pass begun after the change has finished. Run under the umockdev
preload (the `testbed` fixture fails, never skips, without it):
    umockdev-wrapper python -m pytest tests/test_hotplug.py
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import pyudev

from controller import wiring
from controller.api.device import Device
from controller.api.kinds import CameraStatus, DeviceLink, Ref, StreamStatus
from controller.api.settings import Settings
from controller.observe.devices import UdevDevices
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.apply import Outcome
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, Timing
from controller.testing.harness import eventually
from controller.testing.mediamtx import MediaMTXEmulator
from controller.view.state import ViewState

pytestmark = [pytest.mark.anyio, pytest.mark.umockdev]

WAIT = 10.0  # wide: these are upper bounds for a loaded CI machine, not latency targets
# Short MediaMTX polling; a resync far beyond WAIT, so it never hides a lost uevent.
TIMING = Timing(resync=600.0, poll=0.05, drift=0.2, backoff_min=0.05, backoff_max=0.5, settle=0.2)

# ---------------------------------------------------------------------------------------------
# udev records: a UVC camera is a USB device, its interface 0, and two video4linux nodes
# (capture, then metadata, which is no camera). No `N:` lines: see conftest.py.

USB = "/devices/pci0000:00/0000:00:14.0/usb1"


@dataclass(frozen=True)
class Cam:
    serial: str
    port: int  # USB port 1-N
    minor: int  # capture node /dev/videoN; the metadata node is N+1

    @property
    def node(self) -> str:
        return f"/dev/video{self.minor}"

    @property
    def by_id(self) -> str:
        return f"/dev/v4l/by-id/usb-Acme_Cam_{self.serial}-video-index0"

    def sys_paths(self) -> list[str]:
        """Children first: the order in which the kernel reports their removal."""
        device = f"/sys{USB}/1-{self.port}"
        interface = f"{device}/1-{self.port}:1.0"
        nodes = [f"{interface}/video4linux/video{self.minor + i}" for i in (1, 0)]
        return [*nodes, interface, device]

    def records(self) -> str:
        device = f"{USB}/1-{self.port}"
        interface = f"{device}/1-{self.port}:1.0"
        usb_path = f"pci-0000:00:14.0-usb-0:{self.port}:1.0"
        text = (
            f"P: {device}\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
            f"A: idVendor=1d6b\nA: idProduct=c0de\nA: serial={self.serial}\n\n"
            f"P: {interface}\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\n"
            "E: DRIVER=uvcvideo\nA: bInterfaceClass=0e\n\n"
        )
        for index in (0, 1):
            minor = self.minor + index
            links = (
                f"/dev/v4l/by-id/usb-Acme_Cam_{self.serial}-video-index{index} "
                f"/dev/v4l/by-path/{usb_path}-video-index{index}"
            )
            text += (
                f"P: {interface}/video4linux/video{minor}\n"
                f"E: SUBSYSTEM=video4linux\nE: DEVNAME=/dev/video{minor}\n"
                f"E: MAJOR=81\nE: MINOR={minor}\nA: dev=81:{minor}\nA: index={index}\n"
                f"E: ID_V4L_CAPABILITIES={':capture:' if index == 0 else ':'}\n"
                "E: ID_BUS=usb\nE: ID_VENDOR_ID=1d6b\nE: ID_MODEL_ID=c0de\n"
                f"E: ID_SERIAL=Acme_Cam_{self.serial}\nE: ID_SERIAL_SHORT={self.serial}\n"
                f"E: ID_USB_DRIVER=uvcvideo\nE: ID_PATH={usb_path}\n"
                f"E: ID_V4L_PRODUCT=Acme Cam\nE: DEVLINKS={links}\n\n"
            )
        return text


async def plug(testbed: Any, cam: Cam) -> None:
    """Plug a camera in: umockdev sends the `add` uevents itself."""
    testbed.add_from_string(cam.records())
    await drained()


async def unplug(testbed: Any, cam: Cam) -> None:
    """Unplug: `remove` uevents, children first, and the devices gone from sysfs at once.

    No await in between, so the controller never lists a device whose removal it was told
    about (udevd, too, announces a removal only after the kernel has deleted the device).
    """
    for sys_path in cam.sys_paths():
        testbed.uevent(sys_path, "remove")
    for sys_path in cam.sys_paths():
        testbed.remove_device(sys_path)
    await drained()


async def drained() -> None:
    """Let the controller's monitor read what was sent: its socket holds only ~10 uevents, and
    umockdev aborts the process on the next. Two loop turns: the monitor's reader runs after
    whatever was already scheduled, such as this task."""
    for _ in range(2):
        await asyncio.sleep(0)


# ---------------------------------------------------------------------------------------------
# documents and the running controller

DOOR = "HP0000D1"  # the camera that comes and goes
YARD = "HP0000Y2"  # a camera that stays plugged in


def documents(directory: Path) -> Path:
    directory.mkdir()
    text = ""
    for name, serial in (("door", DOOR), ("yard", YARD)):
        text += (
            "---\napiVersion: camctl.dev/v1alpha1\nkind: Camera\n"
            f"metadata: {{name: {name}}}\nspec:\n  match: {{serial: {serial!r}}}\n"
            "---\napiVersion: camctl.dev/v1alpha1\nkind: Stream\n"
            f"metadata: {{name: {name}}}\nspec:\n  camera: {name}\n  path: cams/{name}\n"
            "  mode: always\n  video: {width: 640, height: 480, fps: 15, bitrate: 1M}\n"
        )
    (directory / "cameras.yaml").write_text(text)
    return directory


class WatchedUdev(UdevDevices):
    """UdevDevices that remembers what each pass saw: the tests wait for passes, not time."""

    def __init__(self) -> None:
        self.snapshots: list[list[str]] = []

    def current(self) -> list[Device]:
        devices = super().current()
        self.snapshots.append([d.node for d in devices])
        return devices


class Mark(NamedTuple):
    passes: int  # passes begun
    reasons: int  # wake-up reasons given


@dataclass
class Running:
    controller: Controller
    devices: WatchedUdev
    emu: MediaMTXEmulator
    inventory: Inventory
    reasons: list[str]  # every reason the controller was woken for, in order
    view: ViewState  # the view's sink, for a view a test starts on it

    def mark(self) -> Mark:
        """Where the controller is; take it just before the udev change to wait for."""
        return Mark(len(self.devices.snapshots), len(self.reasons))

    async def settled(
        self, mark: Mark, check: Callable[[], Any], what: str, by_udev: bool = True
    ) -> None:
        """Wait until a pass begun after `mark` has finished and `check` holds.

        Such a pass planned from devices that include every change made before it, so what
        it leaves is final: no earlier pass still in flight can undo it. With `by_udev`, a
        udev event must have woken the controller since `mark`: MediaMTX polling also wakes
        it now and then, and must not hide a lost uevent."""
        seen = self.devices.snapshots
        await eventually(
            lambda: (
                len(seen) > mark.passes and self.controller.health.passes >= len(seen) and check()
            ),
            WAIT,
            what,
        )
        if by_udev:
            woken = self.reasons[mark.reasons :]
            assert any(r.startswith("udev:") for r in woken), f"no udev event woke it: {woken}"

    def paths(self) -> set[str]:
        return set(self.emu.path_names())

    def owned(self) -> set[str]:
        return set(self.inventory.load())

    def converged(self, present: set[str]) -> Callable[[], bool]:
        """MediaMTX has exactly the paths of these cameras, and camctl owns exactly those."""
        want = {f"cams/{name}" for name in present}
        return lambda: self.paths() == want and self.owned() == want

    def command(self, path: str) -> str:
        return str(self.emu.stored(path).get("runOnInit", ""))

    def ready(self, kind: str, name: str) -> tuple[str, str] | None:
        """(status, reason) of the resource's Ready condition, None before any status."""
        status = self.controller.statuses.get(Ref(kind, "default", name))
        for cond in status.conditions if status is not None else []:
            if cond.type == "Ready":
                return cond.status, cond.reason
        return None

    def camera(self, name: str) -> CameraStatus:
        status = self.controller.statuses[Ref("Camera", "default", name)]
        assert isinstance(status, CameraStatus)
        return status

    def stream(self, name: str) -> StreamStatus:
        status = self.controller.statuses[Ref("Stream", "default", name)]
        assert isinstance(status, StreamStatus)
        return status

    async def idle_pass(self) -> Outcome:
        """Ask for one more pass and return what it did (a settled controller does nothing)."""
        mark = self.mark()
        self.controller.trigger("test: one more pass")
        await self.settled(mark, lambda: True, "one more pass", by_udev=False)
        report = self.controller.report
        assert report is not None and report.outcome is not None
        return report.outcome


@asynccontextmanager
async def running(
    tmp_path: Path,
    device_link: DeviceLink = "byId",
    timing: Timing = TIMING,
    settings: Settings | None = None,
) -> AsyncIterator[Running]:
    """The Controller on this loop, with udev devices and an emulated MediaMTX."""
    emu = MediaMTXEmulator()
    url = await emu.start()
    state = tmp_path / "state"
    inventory = Inventory(state)
    devices = WatchedUdev()
    stop = asyncio.Event()
    async with MediaMTXClient(url, timeout=5.0) as client:
        settings = settings or Settings(device_link=device_link)
        view = wiring.view(settings, state)
        parts = wiring.Parts(
            wiring.files([documents(tmp_path / "docs")]), devices, state, settings, timing, [view]
        )
        controller = wiring.controller(parts, client)
        reasons: list[str] = []
        trigger = controller.trigger

        def record(reason: str) -> None:
            reasons.append(reason)
            trigger(reason)

        controller.trigger = record  # type: ignore[method-assign]
        task = asyncio.create_task(controller.run(stop))
        try:
            run = Running(controller, devices, emu, inventory, reasons, view)
            await run.settled(Mark(0, 0), lambda: True, "the first pass", by_udev=False)
            yield run
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT)
            await emu.stop()
    assert task.exception() is None


# ---------------------------------------------------------------------------------------------
# tests


async def test_plug_configures_the_path(testbed: Any, tmp_path: Path) -> None:
    door = Cam(DOOR, port=1, minor=0)
    async with running(tmp_path) as run:
        assert run.paths() == set()
        assert run.ready("Camera", "door") == ("False", "DeviceAbsent")

        mark = run.mark()
        await plug(testbed, door)

        await run.settled(mark, run.converged({"door"}), "cams/door configured after the add")
        assert f" {door.by_id} " in run.command("cams/door")
        assert run.ready("Camera", "door") == ("True", "DeviceFound")
        assert run.ready("Stream", "door") == ("True", "PathConfigured")


async def test_unplug_removes_the_path_and_says_why(testbed: Any, tmp_path: Path) -> None:
    door, yard = Cam(DOOR, port=1, minor=0), Cam(YARD, port=2, minor=2)
    await plug(testbed, door)
    await plug(testbed, yard)
    async with running(tmp_path) as run:
        await run.settled(Mark(0, 0), run.converged({"door", "yard"}), "both at start", False)

        mark = run.mark()
        await unplug(testbed, door)

        await run.settled(mark, run.converged({"yard"}), "cams/door removed, cams/yard kept")
        assert run.ready("Camera", "door") == ("False", "DeviceAbsent")
        assert run.ready("Stream", "door") == ("False", "CameraNotReady")
        assert run.ready("Camera", "yard") == ("True", "DeviceFound")
        assert run.camera("door").device is None


@pytest.mark.parametrize(
    ("device_link", "expected"),
    [("node", "/dev/video4"), ("byId", f"/dev/v4l/by-id/usb-Acme_Cam_{DOOR}-video-index0")],
)
async def test_replug_as_another_node_restores_the_path(
    testbed: Any, tmp_path: Path, device_link: DeviceLink, expected: str
) -> None:
    first, again = Cam(DOOR, port=1, minor=0), Cam(DOOR, port=1, minor=4)
    await plug(testbed, first)
    async with running(tmp_path, device_link) as run:
        await run.settled(Mark(0, 0), run.converged({"door"}), "cams/door at start", False)
        assert (" /dev/video0 " in run.command("cams/door")) == (device_link == "node")

        mark = run.mark()
        await unplug(testbed, first)
        await run.settled(mark, run.converged(set()), "cams/door removed")
        mark = run.mark()
        await plug(testbed, again)

        await run.settled(mark, run.converged({"door"}), "cams/door restored")
        assert f" {expected} " in run.command("cams/door")
        assert "/dev/video0" not in run.command("cams/door")
        status = run.stream("door")
        assert (status.device, status.device_link) == (expected, device_link)
        camera = run.camera("door")
        assert camera.device is not None and camera.device.node == "/dev/video4"


@pytest.mark.parametrize("last", ["plugged", "unplugged"])
@pytest.mark.parametrize("pause", [0.0, 0.003], ids=["burst", "paced"])
async def test_flapping_ends_in_the_state_of_the_last_event(
    testbed: Any, tmp_path: Path, last: str, pause: float
) -> None:
    """30 plug/unplug cycles, each under another node: as fast as umockdev delivers them (a
    burst that one pass may see the end of), or a few ms apart (spread over many passes).

    MediaMTX answers slowly, so events land in the middle of passes, and the drift check is
    off: nothing but the uevents (and, where the passes saw the camera flap, the end of its
    short hold-down) can bring the controller to the final state."""
    yard = Cam(YARD, port=2, minor=20)
    flaps = [Cam(DOOR, port=1, minor=2 * (i % 3)) for i in range(30)]
    final = Cam(DOOR, port=1, minor=8)  # a node used by no earlier cycle
    await plug(testbed, yard)
    if last == "unplugged":
        await plug(testbed, final)
    timing = replace(TIMING, drift=600.0)
    settings = Settings(device_link="node", flap_hold_down=0.5)
    async with running(tmp_path, "node", timing, settings) as run:
        run.emu.delay = 0.01
        start = {"yard", "door"} if last == "unplugged" else {"yard"}
        await run.settled(Mark(0, 0), run.converged(start), f"{sorted(start)} at start", False)
        requests_before = len(run.emu.requests)
        if last == "unplugged":
            await unplug(testbed, final)

        for cam in flaps:
            await plug(testbed, cam)
            await asyncio.sleep(pause)
            mark = run.mark()  # the last one taken is just before the last event
            await unplug(testbed, cam)
        if last == "plugged":
            mark = run.mark()
            await plug(testbed, final)

        end = {"yard", "door"} if last == "plugged" else {"yard"}
        await run.settled(mark, run.converged(end), f"exactly {sorted(end)} after the flapping")
        if last == "plugged":
            assert f" {final.node} " in run.command("cams/door")  # the last node, not an older one
        assert run.ready("Camera", "door") == (
            ("True", "DeviceFound") if last == "plugged" else ("False", "DeviceAbsent")
        )
        assert (await run.idle_pass()).results == []  # nothing left to do
        assert run.converged(end)()
        # the camera that stayed was never touched
        touched = [r for r in run.emu.requests[requests_before:] if "cams/yard" in r[1]]
        assert [r for r in touched if r[0] != "GET"] == []
        assert run.controller.health.errors == []


async def test_a_flapping_camera_is_damped_then_converges(testbed: Any, tmp_path: Path) -> None:
    """A loose cable: the camera comes and goes 25 times, a pass between each change. camctl
    follows the first few changes, then stops touching the path until the camera has stayed
    put for the hold-down; then it converges once. MediaMTX sees a bounded number of writes."""
    yard = Cam(YARD, port=2, minor=20)
    door = Cam(DOOR, port=1, minor=0)
    settings = Settings(flap_changes=6, flap_window=120.0, flap_hold_down=1.0)
    await plug(testbed, yard)
    async with running(tmp_path, settings=settings) as run:
        await run.settled(Mark(0, 0), run.converged({"yard"}), "yard at start", False)
        writes = run.emu.write_count
        plugged = False
        for _ in range(25):
            mark = run.mark()
            await (unplug if plugged else plug)(testbed, door)
            plugged = not plugged
            await run.settled(mark, lambda: True, "a pass after the change")
        assert plugged, "the loop ends with the camera plugged in"
        assert run.ready("Camera", "door") == ("False", "Flapping")
        flaps = run.camera("door").flaps
        assert flaps is not None and flaps.damped_since is not None
        assert run.paths() == {"cams/yard"}, "while damped, the path stays removed"
        assert run.ready("Stream", "door") == ("False", "CameraNotReady")

        # Left alone, it converges when the hold-down ends: no event is needed to notice.
        mark = run.mark()
        await run.settled(mark, run.converged({"door", "yard"}), "door back", by_udev=False)
        assert any(r == "recheck" for r in run.reasons[mark.reasons :])
        assert run.ready("Camera", "door") == ("True", "DeviceFound")
        assert run.camera("door").flaps is None, "the history is forgotten once it is stable"
        # One add and one delete per change followed (six), the delete when damping began,
        # the add at the end: 25 changes cost at most 8 writes.
        assert run.emu.write_count - writes <= settings.flap_changes + 2
        assert (await run.idle_pass()).results == []


async def test_overflowed_monitor_still_wakes_the_controller(
    testbed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A burst the kernel drops (ENOBUFS on the netlink socket) must still cause a pass."""
    overflow = False
    real_poll = pyudev.Monitor.poll

    def poll(monitor: pyudev.Monitor, timeout: float | None = None) -> Any:
        nonlocal overflow
        if overflow:
            overflow = False
            while real_poll(monitor, 0) is not None:
                pass  # the events the kernel dropped
            raise OSError(errno.ENOBUFS, os.strerror(errno.ENOBUFS))
        return real_poll(monitor, timeout)

    monkeypatch.setattr(pyudev.Monitor, "poll", poll)
    async with running(tmp_path) as run:
        overflow = True
        mark = run.mark()
        await plug(testbed, Cam(DOOR, port=1, minor=0))

        await run.settled(mark, run.converged({"door"}), "cams/door configured, events lost")
        assert not overflow  # the overflow did happen
        assert "some events were lost" in caplog.text
