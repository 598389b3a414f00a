"""The running controller's latencies: an edit, a plug, a MediaMTX restart, and 1,000 streams.

The Controller runs as `camctl run` runs it (default `Timing`, `Controller.run` on this
process's event loop, FileSource on a folder of documents), against the MediaMTX emulator
served from a thread of its own, as MediaMTX is another process. The emulator stamps
`time.perf_counter()` on its own thread at the moment it commits the change awaited, so no
polling delay is added to the numbers; the emulator shares the GIL with the controller,
which makes every number here a little pessimistic.

- file saved -> path updated: a Recording's retention lengthened by a rename-save (write a
  temporary file, `os.replace` it over the document), timed from the `os.replace` to the
  commit of the new `recordDeleteAfter` (the PATCH), and to the file watch's notification;
- udev add -> path configured: under umockdev's Testbed (`umockdev-wrapper` preload), from
  `add_from_string` of a camera's records to the commit of its path; unplugged in between;
- MediaMTX restart -> paths restored: `restart()` forgets every path and drops every
  connection, as MediaMTX's exit does; timed until all 100 are back (noticed by the
  controller's idle connection closing, which wakes a look at `/v3/info`);
- 1,000 streams: a cold converge from the start of `Controller.run` until all 1,000 paths
  exist, then (after one more pass that settles the statuses) resyncs with nothing to do
  (MediaMTX quiet: its publishers send nothing, its lists read the same): their writes, and
  the CPU time of the thread that runs the pass (`time.thread_time` around
  `Controller.reconcile`, the collector's pauses included; the emulator's thread is not
  counted). Then the same while every publisher sends 2 Mbit/s, so that each pass brings
  every Stream new live figures.

Samples are spaced by random pauses so that they fall at every phase of the watchers' and
the poll's timers.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from benchmarks.targets import measuring, missed, run, verdict
from benchmarks.world import write_world
from controller.api.settings import Settings
from controller.observe.devices import DeviceSource, SimulatedDevices, UdevDevices
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.apply import Outcome
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, Timing, tune_collector
from controller.sinks.statusfiles import StatusStore
from controller.sources.files import FileSource
from controller.testing.mediamtx import BYTE_RATE, MediaMTXEmulator

T = TypeVar("T")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILE_SAMPLES, FILE_MEDIAN, FILE_P99 = 100, 0.015, 0.050  # issue 12: at most 15 and 50 ms
UDEV_SAMPLES, UDEV_MEDIAN = 30, 0.025
RESTART_SAMPLES, RESTART_PATHS, RESTART_TARGET = 10, 100, 2.0
BIG, BIG_RUNS, BIG_RESYNCS, COLD_TARGET, RESYNC_CPU = 1000, 3, 5, 3.0, 0.100
LIVE_RUNS, LIVE_RATE = 2, BYTE_RATE  # runs whose publishers send 2 Mbit/s (bytes a second)
WAIT = 30.0  # give up on a measurement when one sample takes this long: its target NOT met
RNG = random.Random(3)

# ---------------------------------------------------------------------------------------------
# the emulator, on a thread of its own, stamping the moment it commits what a sample waits for


class StampedEmulator(MediaMTXEmulator):
    """The emulator, calling back (on its own thread) once a check holds after a change."""

    def __init__(self, byte_rate: int = BYTE_RATE) -> None:
        super().__init__(byte_rate=byte_rate)
        self._waiting: tuple[Callable[[StampedEmulator], bool], Callable[[float], None]] | None
        self._waiting = None
        self.first_store: float | None = None  # when the first path was written

    def expect(
        self, check: Callable[[StampedEmulator], bool], done: Callable[[float], None]
    ) -> None:
        """After the next change that makes `check` hold, call `done(time.perf_counter())`."""
        self._waiting = (check, done)

    def count(self) -> int:
        return len(self._paths)

    def has(self, name: str) -> bool:
        return name in self._paths

    def value(self, name: str, field: str) -> Any:
        return self._paths.get(name, {}).get(field)

    def _store(self, name: str, fields: dict[str, Any]) -> None:
        super()._store(name, fields)
        if self.first_store is None:
            self.first_store = time.perf_counter()
        self._changed()

    async def _config_delete(self, request: web.Request) -> web.Response:
        response = await super()._config_delete(request)
        self._changed()
        return response

    def _changed(self) -> None:
        waiting = self._waiting
        if waiting is not None and waiting[0](self):
            self._waiting = None
            waiting[1](time.perf_counter())


class EmulatorThread:
    """A StampedEmulator served over HTTP from a daemon thread with its own event loop."""

    def __init__(self, byte_rate: int | None = None) -> None:
        self.emu = StampedEmulator(BYTE_RATE if byte_rate is None else byte_rate)
        self.loop = asyncio.new_event_loop()
        self.url = ""

    @contextmanager
    def serving(self) -> Iterator[EmulatorThread]:
        thread = threading.Thread(target=self.loop.run_forever, name="emulator", daemon=True)
        thread.start()
        try:
            start = asyncio.run_coroutine_threadsafe(self.emu.start(), self.loop)
            self.url = start.result(10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.emu.stop(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            thread.join(10)
            self.loop.close()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the emulator's thread, between two of its requests."""

        async def run() -> T:
            return fn()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    async def when(
        self, check: Callable[[StampedEmulator], bool], change: Callable[[], Any] | None = None
    ) -> tuple[float, asyncio.Future[float]]:
        """Arm `check`, then run `change` on the emulator's thread (both at once, so no request
        slips in between); the time `change` ran, and a future of when `check` came to hold."""
        loop = asyncio.get_running_loop()
        landed: asyncio.Future[float] = loop.create_future()

        def resolve(at: float) -> None:
            if not landed.done():
                landed.set_result(at)

        def done(at: float) -> None:
            loop.call_soon_threadsafe(resolve, at)

        def arm() -> float:
            self.emu.expect(check, done)
            at = time.perf_counter()
            if change is not None:
                change()
            return at

        return await self.call(arm), landed


# ---------------------------------------------------------------------------------------------
# the controller


@dataclass
class Pass:
    reasons: list[str]
    wall: float
    cpu: float  # time.thread_time of the loop's thread during the pass
    actions: int
    writes: int  # successful writes the emulator counted during the pass


class Clocked(Controller):
    """The Controller, timing each pass; `quiet()` waits until no pass is under way or due."""

    def __init__(self, emu: StampedEmulator, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emu = emu
        self.log: list[Pass] = []
        self.busy = False
        self.noticed: float | None = None  # when the file watch last reported documents

    def trigger(self, reason: str) -> None:
        if reason.startswith("files:"):
            self.noticed = time.perf_counter()
        super().trigger(reason)

    async def reconcile(self) -> Outcome:
        self.busy = True
        writes, wall, cpu = self.emu.write_count, time.perf_counter(), time.thread_time()
        try:
            outcome = await super().reconcile()
        finally:
            self.busy = False
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        reasons = list(self.health.last_reasons)
        actions = len(outcome.plan.actions)
        self.log.append(Pass(reasons, wall, cpu, actions, self.emu.write_count - writes))
        return outcome

    async def quiet(self) -> None:
        while self.busy or self._wake.is_set():
            await asyncio.sleep(0.002)

    async def one_pass(self, reason: str) -> Pass:
        """Wake the controller with `reason` and return the pass that handled it."""
        await self.quiet()
        self.trigger(reason)
        while not any(reason in p.reasons for p in self.log[-3:]):
            await asyncio.sleep(0.002)
        return next(p for p in reversed(self.log) if reason in p.reasons)


@asynccontextmanager
async def running(
    emulator: EmulatorThread,
    docs: Path,
    devices: DeviceSource,
    state: Path,
    settings: Settings | None = None,
) -> AsyncIterator[Clocked]:
    """`camctl run` in this loop: the Controller with its default timing, stopped on exit."""
    tune_collector()  # as camctl run does
    stop = asyncio.Event()
    async with MediaMTXClient(emulator.url) as client:
        controller = Clocked(
            emulator.emu,
            FileSource([docs]),
            devices,
            client,
            Inventory(state),
            settings or Settings(),
            Timing(),
            sinks=[StatusStore(state)],
        )
        task = asyncio.create_task(controller.run(stop))
        try:
            yield controller
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT)


async def within(future: asyncio.Future[T], what: str) -> T:
    try:
        return await asyncio.wait_for(future, WAIT)
    except TimeoutError:
        raise TimeoutError(f"not within {WAIT:.0f} s: {what}") from None


# ---------------------------------------------------------------------------------------------
# generated worlds: N cameras with a Stream (and a Recording) each, and their simulated devices


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.1f} ms"


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def _range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


# ---------------------------------------------------------------------------------------------
# 1. file saved -> path updated


def saved(value: str) -> Callable[[StampedEmulator], bool]:
    """The retention of the front door's recording is `value` in MediaMTX."""
    return lambda emu: emu.value("cams/front-door", "recordDeleteAfter") == value


async def file_saved(root: Path) -> None:
    docs = Path(shutil.copytree(EXAMPLES / "gitops", root / "docs"))
    (root / "dev").mkdir()
    devices = Path(shutil.copy(EXAMPLES / "devices.yaml", root / "dev" / "devices.yaml"))
    target, temporary = docs / "recordings.yaml", docs / ".recordings.yaml.swp"
    original = target.read_text()
    if "retention: 7d " not in original:
        raise RuntimeError(f"{target} no longer holds the retention this benchmark lengthens")
    samples, noticed, writes = [], [], []
    with EmulatorThread().serving() as emulator:
        async with running(emulator, docs, SimulatedDevices(devices), root / "state") as c:
            await c.one_pass("bench: converged")  # after the first pass (and its statuses)
            await asyncio.sleep(1.5)  # past the first MediaMTX poll, which wakes it once more
            for i in range(FILE_SAMPLES):
                await c.quiet()
                await asyncio.sleep(RNG.uniform(0.05, 0.15))
                value = f"{8 + i}d"  # longer each time: shortening waits for the settle time
                temporary.write_text(original.replace("retention: 7d ", f"retention: {value} "))
                written = emulator.emu.write_count

                _, landed = await emulator.when(saved(value))
                c.noticed, start = None, time.perf_counter()
                os.replace(temporary, target)
                samples.append(await within(landed, f"recordDeleteAfter {value}") - start)
                noticed.append((c.noticed or float("nan")) - start)
                await c.quiet()
                writes.append(emulator.emu.write_count - written)
    median, worst = statistics.median(samples), p99(samples)
    print(
        f"  file saved -> PATCH sent: median {median * 1e3:.1f} ms (target <= "
        f"{FILE_MEDIAN * 1e3:.0f} ms: {verdict(median <= FILE_MEDIAN, 'loop: save median')}), "
        f"p99 {worst * 1e3:.1f} ms (target <= {FILE_P99 * 1e3:.0f} ms: "
        f"{verdict(worst <= FILE_P99, 'loop: save p99')}), max {max(samples) * 1e3:.1f} ms; "
        f"{FILE_SAMPLES} rename-saves lengthening a retention, writes per save "
        f"{_range(writes)}; of which the file watch's notice: median {median_ms(noticed)}, "
        f"p99 {p99(noticed) * 1e3:.1f} ms"
    )


# ---------------------------------------------------------------------------------------------
# 2. udev add -> path configured (umockdev)

USB = "/devices/pci0000:00/0000:00:14.0/usb1"
SERIAL = "BENCH0001"
_testbed: Any = None


def umockdev_testbed() -> Any:
    """The process's one Testbed (destroying one unsets UMOCKDEV_DIR: see tests/conftest.py)."""
    global _testbed
    if _testbed is None:
        import gi

        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev

        _testbed = UMockdev.Testbed.new()
    return _testbed


def camera_records(port: int, minor: int) -> tuple[str, list[str]]:
    """umockdev records of a UVC camera (USB device, interface, capture and metadata nodes),
    without `N:` lines (re-adding a node name with one aborts umockdev), and its sys paths,
    children first as the kernel removes them."""
    device = f"{USB}/1-{port}"
    interface = f"{device}/1-{port}:1.0"
    usb_path = f"pci-0000:00:14.0-usb-0:{port}:1.0"
    text = (
        f"P: {device}\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
        f"A: idVendor=1d6b\nA: idProduct=c0de\nA: serial={SERIAL}\n\n"
        f"P: {interface}\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\n"
        "E: DRIVER=uvcvideo\nA: bInterfaceClass=0e\n\n"
    )
    for index in (0, 1):
        links = (
            f"/dev/v4l/by-id/usb-Acme_Cam_{SERIAL}-video-index{index} "
            f"/dev/v4l/by-path/{usb_path}-video-index{index}"
        )
        text += (
            f"P: {interface}/video4linux/video{minor + index}\n"
            f"E: SUBSYSTEM=video4linux\nE: DEVNAME=/dev/video{minor + index}\n"
            f"E: MAJOR=81\nE: MINOR={minor + index}\nA: dev=81:{minor + index}\n"
            f"A: index={index}\nE: ID_V4L_CAPABILITIES={':capture:' if index == 0 else ':'}\n"
            "E: ID_BUS=usb\nE: ID_VENDOR_ID=1d6b\nE: ID_MODEL_ID=c0de\n"
            f"E: ID_SERIAL=Acme_Cam_{SERIAL}\nE: ID_SERIAL_SHORT={SERIAL}\n"
            f"E: ID_USB_DRIVER=uvcvideo\nE: ID_PATH={usb_path}\n"
            f"E: ID_V4L_PRODUCT=Acme Cam\nE: DEVLINKS={links}\n\n"
        )
    nodes = [f"/sys{interface}/video4linux/video{minor + i}" for i in (1, 0)]
    return text, [*nodes, f"/sys{interface}", f"/sys{device}"]


def umockdev_missing() -> str | None:
    """Why the udev benchmark cannot run here, or None."""
    if "umockdev" not in os.environ.get("LD_PRELOAD", ""):
        return (
            "needs the umockdev preload: run `umockdev-wrapper python -m benchmarks` "
            "(without it udev shows the real /sys, where no camera is ever plugged)"
        )
    try:
        import gi

        gi.require_version("UMockdev", "1.0")
    except (ImportError, ValueError) as exc:
        return f"needs umockdev's GObject bindings (gir1.2-umockdev-1.0, PyGObject): {exc}"
    return None


async def drained() -> None:
    """Let the monitor read the uevents sent: its socket holds only ~10 (see conftest.py)."""
    for _ in range(2):
        await asyncio.sleep(0)


async def udev_add(root: Path) -> None:
    """Plug and unplug one camera; NOT met when umockdev is not there to do it."""
    if (why := umockdev_missing()) is not None:
        missed("udev add -> path configured", f"REFUSED: {why}")
        return
    testbed = umockdev_testbed()  # before the controller's pyudev monitor exists
    docs = root / "docs"
    docs.mkdir(parents=True)
    (docs / "door.yaml").write_text(
        "apiVersion: camctl.dev/v1alpha1\nkind: Camera\nmetadata: {name: door}\n"
        f'spec:\n  match: {{serial: "{SERIAL}"}}\n---\n'
        "apiVersion: camctl.dev/v1alpha1\nkind: Stream\nmetadata: {name: door}\n"
        "spec:\n  camera: door\n  path: cams/door\n  mode: always\n"
        "  video: {width: 640, height: 480, fps: 15, bitrate: 1M}\n"
    )
    records, sys_paths = camera_records(port=1, minor=0)
    samples, adding = [], []
    with EmulatorThread().serving() as emulator:
        # 30 plugs in a minute is a flapping camera, held down 30 s by design (see
        # reconcile/plan/flapping.py): the latency measured is that of a camera that is not.
        steady = Settings(flap_changes=4 * UDEV_SAMPLES)
        async with running(emulator, docs, UdevDevices(), root / "state", steady) as c:
            await c.one_pass("bench: started")
            await asyncio.sleep(1.5)  # past the first MediaMTX poll
            for _ in range(UDEV_SAMPLES):
                await c.quiet()
                await asyncio.sleep(RNG.uniform(0.05, 0.15))
                _, configured = await emulator.when(lambda e: e.has("cams/door"))
                start = time.perf_counter()
                testbed.add_from_string(records)  # sends the `add` uevents itself
                adding.append(time.perf_counter() - start)
                samples.append(await within(configured, "cams/door configured") - start)
                await c.quiet()
                _, removed = await emulator.when(lambda e: not e.has("cams/door"))
                for sys_path in sys_paths:
                    testbed.uevent(sys_path, "remove")
                for sys_path in sys_paths:
                    testbed.remove_device(sys_path)
                await drained()
                await within(removed, "cams/door removed after the unplug")
    met = statistics.median(samples) < UDEV_MEDIAN
    print(
        f"  udev add -> path configured: median {median_ms(samples)}, p99 "
        f"{p99(samples) * 1e3:.1f} ms, max {max(samples) * 1e3:.1f} ms ({UDEV_SAMPLES} plugs, "
        f"unplugged between; add_from_string itself median {median_ms(adding)}; "
        f"target median < {UDEV_MEDIAN * 1e3:.0f} ms: {verdict(met, 'loop: udev add')})"
    )


# ---------------------------------------------------------------------------------------------
# 3. MediaMTX restart -> all paths restored


async def restart_restored(root: Path) -> None:
    devices = write_world(root, RESTART_PATHS, recordings=False)
    samples = []
    with EmulatorThread().serving() as emulator:
        emu = emulator.emu
        async with running(emulator, root / "docs", SimulatedDevices(devices), root / "state") as c:
            _, converged = await emulator.when(lambda e: e.count() == RESTART_PATHS)
            await within(converged, f"{RESTART_PATHS} paths at start")
            await asyncio.sleep(1.5)  # past the first MediaMTX poll
            for _ in range(RESTART_SAMPLES):
                await c.quiet()
                # Not back to back: a connection that closes within `poll` of opening makes
                # the controller wait out the rest (no spinning on a refusing MediaMTX).
                await asyncio.sleep(RNG.uniform(Timing().poll, 2 * Timing().poll))
                start, restored = await emulator.when(
                    lambda e: e.count() == RESTART_PATHS, emu.restart
                )
                samples.append(await within(restored, "paths restored") - start)
    met = max(samples) < RESTART_TARGET
    print(
        f"  MediaMTX restart -> all {RESTART_PATHS} paths restored: median "
        f"{statistics.median(samples):.2f} s, max {max(samples):.2f} s ({RESTART_SAMPLES} "
        f"restarts, noticed by MediaMTX closing camctl's idle connection; target every one "
        f"< {RESTART_TARGET:g} s: {verdict(met, 'loop: MediaMTX restart')})"
    )


# ---------------------------------------------------------------------------------------------
# 4. 1,000 streams: cold converge, then resyncs with nothing to do


@dataclass
class BigRun:
    cold: float
    first_write: float  # from the start to the first path written: loading and planning
    resyncs: list[Pass]


async def big_run(root: Path, byte_rate: int) -> BigRun:
    """1,000 streams whose publishers send `byte_rate` bytes a second (0: MediaMTX quiet)."""
    devices = write_world(root, BIG)
    with EmulatorThread(byte_rate).serving() as emulator:
        _, converged = await emulator.when(lambda e: e.count() == BIG)
        start = time.perf_counter()
        async with running(emulator, root / "docs", SimulatedDevices(devices), root / "state") as c:
            cold = await within(converged, f"{BIG} paths") - start
            first_write = (emulator.emu.first_store or start) - start
            await c.quiet()
            # The statuses of the cold pass were planned before MediaMTX reported the new paths
            # online; the pass after it still rewrites them. From then on there is nothing to do.
            await c.one_pass("bench: settle")
            resyncs = [await c.one_pass(f"bench: resync {i}") for i in range(BIG_RESYNCS)]
    return BigRun(cold, first_write, resyncs)


async def thousand(root: Path) -> None:
    runs = []
    for i in range(BIG_RUNS):
        runs.append(await big_run(root / str(i), byte_rate=0))
    cold = statistics.median(r.cold for r in runs)
    first_write = statistics.median(r.first_write for r in runs)
    resyncs = [p for r in runs for p in r.resyncs]
    writes = sum(p.writes for p in resyncs)
    actions = sum(p.actions for p in resyncs)
    cpu = statistics.median(p.cpu for p in resyncs)
    wall = statistics.median(p.wall for p in resyncs)
    print(
        f"  {BIG} streams, cold converge from start to all {BIG} paths: median {cold:.2f} s "
        f"(first write after {first_write:.2f} s: loading {3 * BIG} documents and {BIG} "
        f"devices, planning; then {BIG} adds; {BIG_RUNS} runs, fresh emulator and state each; "
        f"target < {COLD_TARGET:g} s: {verdict(cold < COLD_TARGET, 'loop: cold converge')})"
    )
    print(
        f"  {BIG} streams, resync with nothing to do: {writes} writes, {actions} actions in "
        f"{len(resyncs)} passes; CPU of the pass median {cpu * 1e3:.0f} ms (max "
        f"{max(p.cpu for p in resyncs) * 1e3:.0f} ms), wall {wall * 1e3:.0f} ms "
        f"(target 0 writes and CPU median < {RESYNC_CPU * 1e3:.0f} ms: "
        f"{verdict(writes == 0 and cpu < RESYNC_CPU, 'loop: idle resync')})"
    )
    live = [
        p for i in range(LIVE_RUNS) for p in (await big_run(root / f"live{i}", LIVE_RATE)).resyncs
    ]
    print(
        f"  {BIG} streams, resync while every publisher sends {LIVE_RATE * 8 / 1e6:g} Mbit/s: "
        f"{sum(p.writes for p in live)} writes in {len(live)} passes; CPU of the pass median "
        f"{statistics.median(p.cpu for p in live) * 1e3:.0f} ms (every Stream's live figures "
        "new; status files take them at most once a minute)"
    )


# ---------------------------------------------------------------------------------------------


async def run_all() -> None:
    """Every measurement; one that cannot finish is reported NOT met, and the next one runs."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        load, cpus = os.getloadavg()[0], os.cpu_count()
        print(
            "loop: the running Controller (default Timing) with the emulator on a thread of its "
            f"own (load average {load:.1f} on {cpus} CPUs: other work on the machine shows here)"
        )
        with measuring("file saved -> path updated"):
            await file_saved(root / "file")
        with measuring("udev add -> path configured"):
            await udev_add(root / "udev")
        with measuring("MediaMTX restart -> paths restored"):
            await restart_restored(root / "restart")
        with measuring(f"{BIG} streams"):
            await thousand(root / "big")


def main() -> None:
    asyncio.run(run_all())


if __name__ == "__main__":
    raise SystemExit(run(main))
