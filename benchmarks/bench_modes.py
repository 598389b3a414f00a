"""Camera modes: what reading them costs when a camera appears, and what a pass pays after.

Three emulated cameras under umockdev (controller.testing.v4l2: a C920-like one with MJPEG,
YUYV and H.264, a YUYV-only one, one with stepwise sizes and rates), enumerated as a pass
does (`enumerate_devices`):

- appearance: with an empty `ModeCache`, so every node is opened and its VIDIOC_ENUM_*
  lists walked, as when the three are plugged in;
- a pass after: with the cache that appearance filled, against the same listing with no
  modes at all (facts only); the difference is what modes cost every pass.

Each ioctl here is a round trip over umockdev's socket to a Python handler on another
thread, so the appearance numbers are an upper bound: a real driver answers from memory
(uvcvideo parsed the descriptors at probe time) in microseconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pyudev

from benchmarks.bench_loop import umockdev_missing, umockdev_testbed
from benchmarks.targets import missed, run, verdict
from controller.observe.v4l2 import enumerate_devices
from controller.observe.v4l2_modes import ModeCache, ModeRead

if TYPE_CHECKING:
    from controller.testing.v4l2 import EmulatedCamera

REPEATS = 30
APPEARANCE_TARGET = 0.050  # seconds for three cameras, emulated
PASS_OVERHEAD_TARGET = 0.0005  # seconds a pass may pay for the three cameras' modes
MINORS = (40, 42, 44)  # clear of the other benchmarks' nodes
SIZES = ((1920, 1080), (1600, 896), (1280, 720), (960, 540), (800, 600), (640, 480))


def records() -> str:
    return "".join(
        f"P: /devices/virtual/video4linux/video{m}\nN: video{m}=00\n"
        f"E: SUBSYSTEM=video4linux\nE: DEVNAME=/dev/video{m}\n"
        f"E: ID_V4L_CAPABILITIES=:capture:\nE: ID_SERIAL_SHORT=BENCHMODE{m}\n"
        f"E: USEC_INITIALIZED={m}\nA: dev=81:{m}\n\n"
        for m in MINORS
    )


def timed(measure: Callable[[], object]) -> float:
    start = time.perf_counter()
    measure()
    return time.perf_counter() - start


def main() -> None:
    if (why := umockdev_missing()) is not None:
        missed("modes", f"REFUSED: {why}")
        return
    from controller.testing.v4l2 import (
        EmulatedCamera,
        Format,
        IntervalRange,
        SizeRange,
        attached,
        discrete,
    )

    c920 = EmulatedCamera(
        [
            Format("MJPG", tuple(discrete(w, h, 30, 24, 20, 15, 10, 5) for w, h in SIZES)),
            Format("YUYV", (discrete(1920, 1080, 5), discrete(1280, 720, 10, 5))),
            Format("H264", (discrete(1920, 1080, 30, 15), discrete(1280, 720, 30, 15))),
        ]
    )
    raw = EmulatedCamera([Format("YUYV", (discrete(640, 480, 30, 15), discrete(320, 240, 30)))])
    soc = EmulatedCamera(
        [Format("NV12", SizeRange((64, 1920, 16), (64, 1080, 8), IntervalRange((1, 60), (1, 1))))]
    )
    cameras = dict(zip((f"/dev/video{m}" for m in MINORS), (c920, raw, soc), strict=True))
    testbed = umockdev_testbed()
    testbed.add_from_string(records())
    try:
        with attached(testbed, cameras):
            measure(cameras)
    finally:
        for m in MINORS:
            sys_path = f"/sys/devices/virtual/video4linux/video{m}"
            testbed.uevent(sys_path, "remove")
            testbed.remove_device(sys_path)


def measure(cameras: Mapping[str, EmulatedCamera]) -> None:
    def count() -> int:
        return sum(len(c.calls) for c in cameras.values())

    context = pyudev.Context()  # one for the process, as UdevDevices keeps it

    def listing(cache: ModeCache) -> Callable[[], object]:
        return lambda: enumerate_devices(context, cache)

    before = count()
    found = enumerate_devices(context, ModeCache())
    ioctls = count() - before
    if sorted(d.node for d in found if d.modes) != sorted(cameras):
        missed("modes", f"the emulated cameras were not read: {found}")
        return
    warm = ModeCache()
    enumerate_devices(context, warm)
    appearance = statistics.median(timed(listing(ModeCache())) for _ in range(REPEATS))
    time.sleep(0.2)  # umockdev's handler thread winds down: it would share the GIL below
    # interleaved, so that the machine's drift falls on both alike
    cached, facts = [], []
    before = count()
    for _ in range(REPEATS):
        cached.append(timed(listing(warm)))
        facts.append(timed(listing(ModeCache(lambda node: ModeRead(())))))
    cached_ioctls = count() - before
    overhead = statistics.median(c - f for c, f in zip(cached, facts, strict=True))
    print(
        f"  modes of 3 cameras at appearance: median {appearance * 1e3:.1f} ms"
        f" ({ioctls} ioctls, {(appearance - statistics.median(facts)) / ioctls * 1e6:.0f} us"
        " each emulated;"
        f" target < {APPEARANCE_TARGET * 1e3:.0f} ms:"
        f" {verdict(appearance < APPEARANCE_TARGET, 'modes: appearance')})"
    )
    print(
        f"  a pass after: median {statistics.median(cached) * 1e3:.2f} ms with modes cached,"
        f" {statistics.median(facts) * 1e3:.2f} ms without modes, {overhead * 1e3:+.2f} ms paired"
        f" ({cached_ioctls} ioctls in {REPEATS} passes; target: modes add"
        f" < {PASS_OVERHEAD_TARGET * 1e3:.1f} ms:"
        f" {verdict(overhead < PASS_OVERHEAD_TARGET and not cached_ioctls, 'modes: a pass')})"
    )


if __name__ == "__main__":
    raise SystemExit(run(main))
