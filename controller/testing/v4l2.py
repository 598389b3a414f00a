"""Emulated V4L2 cameras for umockdev: answers to the enumeration ioctls, as a driver gives them.

An `EmulatedCamera` is a umockdev `IoctlBase` handler (umockdev >= 0.16, through GObject
introspection). Attached to a node of the session's Testbed (`attached`), it answers
`VIDIOC_ENUM_FMT`, `VIDIOC_ENUM_FRAMESIZES` and `VIDIOC_ENUM_FRAMEINTERVALS` from its
`Format` list, with discrete lists or stepwise/continuous ranges, or fails every ioctl with
one errno. It packs the kernel's structs with `struct` from linux/videodev2.h, independently
of controller.observe.v4l2_modes, so each checks the other. The handler runs on umockdev's
worker thread; the process must run under `umockdev-wrapper`.

umockdev gotchas (0.17.16): a node needs an `N: videoN=00` line (with contents, so it is a
plain file: a PTY-backed node cannot be added twice in one Testbed); `Testbed.clear()` does
not detach handlers and attaching twice to one node aborts the process, so always detach.
"""

from __future__ import annotations

import errno
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

__all__ = [
    "EmulatedCamera",
    "Format",
    "IntervalRange",
    "Size",
    "SizeRange",
    "attached",
    "discrete",
]

ENUM_FMT, ENUM_FRAMESIZES, ENUM_FRAMEINTERVALS = 0xC0405602, 0xC02C564A, 0xC034564B
_SIZES = {ENUM_FMT: 64, ENUM_FRAMESIZES: 44, ENUM_FRAMEINTERVALS: 52}
_DISCRETE, _CONTINUOUS, _STEPWISE = 1, 2, 3
_CAPTURE = 1  # V4L2_BUF_TYPE_VIDEO_CAPTURE

Interval = tuple[int, int]  # seconds per frame: (numerator, denominator), 1/30 is (1, 30)


@dataclass(frozen=True)
class IntervalRange:
    """Frame intervals from `low` to `high`, on `step` (None: a continuous range)."""

    low: Interval
    high: Interval
    step: Interval | None = None


@dataclass(frozen=True)
class Size:
    """A discrete frame size and its frame intervals (a list, or one range)."""

    width: int
    height: int
    intervals: tuple[Interval, ...] | IntervalRange = ()


@dataclass(frozen=True)
class SizeRange:
    """Frame sizes in a range (`step` (1, 1) and `continuous` for V4L2_FRMSIZE_TYPE_CONTINUOUS),
    every size with the same intervals."""

    width: tuple[int, int, int]  # min, max, step
    height: tuple[int, int, int]
    intervals: tuple[Interval, ...] | IntervalRange = ()
    continuous: bool = False


@dataclass(frozen=True)
class Format:
    fourcc: str
    sizes: tuple[Size, ...] | SizeRange
    description: str = ""


def discrete(width: int, height: int, *fps: float) -> Size:
    """A size with its rates given as frames per second: 30 -> (1, 30), 7.5 -> (2, 15)."""
    return Size(width, height, tuple(_interval(rate) for rate in fps))


def _interval(fps: float) -> Interval:
    rate = Fraction(fps).limit_denominator(1001)
    return rate.denominator, rate.numerator


class EmulatedCamera(UMockdev.IoctlBase):  # type: ignore[misc]  # GObject, untyped
    """A V4L2 driver's answers to the enumeration ioctls; `calls` counts what was asked."""

    def __init__(self, formats: Sequence[Format] = (), fail: int | None = None) -> None:
        super().__init__()
        self.formats = list(formats)
        self.fail = fail
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def do_handle_ioctl(self, client: Any) -> bool:
        request = client.get_request()
        with self._lock:
            self.calls.append(request)
        if self.fail is not None or request not in _SIZES:
            client.complete(-1, self.fail if self.fail is not None else errno.ENOTTY)
            return True
        data = client.get_arg().resolve(0, _SIZES[request])
        asked = bytes(data.retrieve())
        answer = self._answer(request, asked)
        if answer is None:
            client.complete(-1, errno.EINVAL)
            return True
        data.update(0, list(answer))
        client.complete(0, 0)
        return True

    def _answer(self, request: int, asked: bytes) -> bytes | None:
        if request == ENUM_FMT:
            return self._format(asked)
        if request == ENUM_FRAMESIZES:
            return self._size(asked)
        return self._interval(asked)

    def _format(self, asked: bytes) -> bytes | None:
        index, kind = struct.unpack_from("<II", asked)
        if kind != _CAPTURE or index >= len(self.formats):
            return None
        fmt = self.formats[index]
        name = (fmt.description or fmt.fourcc).encode()[:31]
        return struct.pack("<III32sII12x", index, kind, 0, name, _code(fmt.fourcc), 0)

    def _size(self, asked: bytes) -> bytes | None:
        index, code = struct.unpack_from("<II", asked)
        fmt = self._find(code)
        if fmt is None:
            return None
        head = struct.pack("<II", index, code)
        if isinstance(fmt.sizes, SizeRange):
            if index > 0:
                return None
            r = fmt.sizes
            kind = _CONTINUOUS if r.continuous else _STEPWISE
            steps = (r.width[0], r.width[1], r.width[2], r.height[0], r.height[1], r.height[2])
            return head + struct.pack("<I6I8x", kind, *steps)
        if index >= len(fmt.sizes):
            return None
        size = fmt.sizes[index]
        return head + struct.pack("<III16x8x", _DISCRETE, size.width, size.height)

    def _interval(self, asked: bytes) -> bytes | None:
        index, code, width, height = struct.unpack_from("<IIII", asked)
        fmt = self._find(code)
        intervals = None if fmt is None else _intervals_of(fmt, width, height)
        if intervals is None:
            return None
        head = struct.pack("<IIII", index, code, width, height)
        if isinstance(intervals, IntervalRange):
            if index > 0:
                return None
            kind = _STEPWISE if intervals.step is not None else _CONTINUOUS
            step = intervals.step or (1, 1)
            return head + struct.pack("<I6I8x", kind, *intervals.low, *intervals.high, *step)
        if index >= len(intervals):
            return None
        return head + struct.pack("<III16x8x", _DISCRETE, *intervals[index])

    def _find(self, code: int) -> Format | None:
        return next((f for f in self.formats if _code(f.fourcc) == code), None)


def _intervals_of(
    fmt: Format, width: int, height: int
) -> tuple[Interval, ...] | IntervalRange | None:
    """A size's intervals, None for a size the format does not have (the driver's EINVAL)."""
    if isinstance(fmt.sizes, SizeRange):
        r = fmt.sizes
        inside = all(
            low <= value <= high and (value - low) % max(step, 1) == 0
            for value, (low, high, step) in ((width, r.width), (height, r.height))
        )
        return r.intervals if inside else None
    return next((s.intervals for s in fmt.sizes if (s.width, s.height) == (width, height)), None)


def _code(fourcc: str) -> int:
    return int.from_bytes(fourcc.ljust(4).encode("ascii"), "little")


@contextmanager
def attached(testbed: Any, cameras: Mapping[str, EmulatedCamera]) -> Iterator[None]:
    """Each camera answering for its node (`/dev/videoN`) until the block ends."""
    done: list[str] = []
    try:
        for node, camera in cameras.items():
            if not testbed.attach_ioctl(node, camera):
                raise RuntimeError(f"umockdev did not attach an ioctl handler to {node}")
            done.append(node)
        yield
    finally:
        for node in done:
            testbed.detach_ioctl(node)
