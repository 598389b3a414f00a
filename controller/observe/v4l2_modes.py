"""What a V4L2 capture node can do: its formats, frame sizes and rates, read with ioctls.

`read_modes` opens the node read-only and non-blocking (the enumeration ioctls need no
more, and a camera streaming to ffmpeg answers them all the same), asks `VIDIOC_ENUM_FMT`,
`VIDIOC_ENUM_FRAMESIZES` and `VIDIOC_ENUM_FRAMEINTERVALS`, and closes it at once. A node
that cannot be opened or does not answer gives no modes and the reason, never an
exception. `ModeCache` reads each device once per appearance, so passes cost no syscall.

Stepwise and continuous ranges (some drivers describe sizes or rates as a range instead of
a list) are expanded to the common sizes (`COMMON_SIZES`) and rates (`COMMON_RATES`) that
fall on the range's steps, plus its largest size and its highest rate.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice

from pydantic import ValidationError

from controller.api.device import MAX_MODES, MAX_RATES, MAX_SIDE, Device, Mode

__all__ = ["COMMON_RATES", "COMMON_SIZES", "ModeCache", "ModeRead", "read_modes"]

# Bounds on what one device may list: a driver bug cannot make camctl loop or hoard.
MAX_FORMATS = 32
MAX_SIZES = 64  # discrete frame sizes of one format
MAX_INTERVALS = 64  # discrete frame intervals of one size

COMMON_SIZES = (
    (160, 120), (320, 240), (352, 288), (640, 360), (640, 480), (800, 600), (960, 540),
    (1024, 768), (1280, 720), (1280, 960), (1280, 1024), (1600, 1200), (1920, 1080),
    (2560, 1440), (2592, 1944), (3840, 2160), (4096, 2160),
)  # fmt: skip
COMMON_RATES = (5, 10, 15, 20, 24, 25, 30, 50, 60, 90, 120)

# ---------------------------------------------------------------------------------------------
# the kernel's structs (linux/videodev2.h) and ioctl numbers

_u32 = ctypes.c_uint32


class _FmtDesc(ctypes.Structure):  # struct v4l2_fmtdesc
    _fields_ = [
        ("index", _u32),
        ("type", _u32),
        ("flags", _u32),
        ("description", ctypes.c_char * 32),
        ("pixelformat", _u32),
        ("mbus_code", _u32),
        ("reserved", _u32 * 3),
    ]


class _Discrete(ctypes.Structure):  # struct v4l2_frmsize_discrete
    _fields_ = [("width", _u32), ("height", _u32)]


class _SizeSteps(ctypes.Structure):  # struct v4l2_frmsize_stepwise
    _fields_ = [
        ("min_width", _u32),
        ("max_width", _u32),
        ("step_width", _u32),
        ("min_height", _u32),
        ("max_height", _u32),
        ("step_height", _u32),
    ]


class _SizeUnion(ctypes.Union):
    _fields_ = [("discrete", _Discrete), ("stepwise", _SizeSteps)]


class _FrmSizeEnum(ctypes.Structure):  # struct v4l2_frmsizeenum
    _fields_ = [
        ("index", _u32),
        ("pixel_format", _u32),
        ("type", _u32),
        ("u", _SizeUnion),
        ("reserved", _u32 * 2),
    ]


class _Fract(ctypes.Structure):  # struct v4l2_fract
    _fields_ = [("numerator", _u32), ("denominator", _u32)]


class _IntervalSteps(ctypes.Structure):  # struct v4l2_frmival_stepwise
    _fields_ = [("min", _Fract), ("max", _Fract), ("step", _Fract)]


class _IntervalUnion(ctypes.Union):
    _fields_ = [("discrete", _Fract), ("stepwise", _IntervalSteps)]


class _FrmIvalEnum(ctypes.Structure):  # struct v4l2_frmivalenum
    _fields_ = [
        ("index", _u32),
        ("pixel_format", _u32),
        ("width", _u32),
        ("height", _u32),
        ("type", _u32),
        ("u", _IntervalUnion),
        ("reserved", _u32 * 2),
    ]


def _iowr(number: int, struct: type[ctypes.Structure]) -> int:
    """_IOWR('V', number, struct): read-write, size, type 'V', number."""
    return (3 << 30) | (ctypes.sizeof(struct) << 16) | (ord("V") << 8) | number


VIDIOC_ENUM_FMT = _iowr(2, _FmtDesc)  # 0xc0405602
VIDIOC_ENUM_FRAMESIZES = _iowr(74, _FrmSizeEnum)  # 0xc02c564a
VIDIOC_ENUM_FRAMEINTERVALS = _iowr(75, _FrmIvalEnum)  # 0xc034564b
BUF_TYPE_VIDEO_CAPTURE = 1
DISCRETE, CONTINUOUS, STEPWISE = 1, 2, 3  # V4L2_FRMSIZE_TYPE_*, V4L2_FRMIVAL_TYPE_*

# ---------------------------------------------------------------------------------------------
# reading one node


@dataclass(frozen=True)
class ModeRead:
    """A node's modes, or none and why."""

    modes: tuple[Mode, ...]
    error: str | None = None

    def apply(self, device: Device) -> Device:
        """The device with these modes (and their formats)."""
        formats = tuple(dict.fromkeys(m.format for m in self.modes))
        return device.model_copy(
            update={"modes": self.modes, "formats": formats, "modes_error": self.error}
        )


class _Unanswered(Exception):
    """An ioctl failed with something other than the end of its list."""


def read_modes(node: str) -> ModeRead:
    """Every capture mode `node` lists; never raises."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        return ModeRead((), f"cannot open {node}: {exc.strerror or exc}")
    try:
        modes = tuple(islice(_modes(fd), MAX_MODES))
    except _Unanswered as exc:
        return ModeRead((), str(exc))
    finally:
        os.close(fd)
    if not modes:
        return ModeRead((), "the driver lists no capture format with a frame size")
    return ModeRead(modes)


def _modes(fd: int) -> Iterator[Mode]:
    for fmt in _formats(fd):
        for width, height in _sizes(fd, fmt):
            try:
                yield Mode(
                    format=fourcc_text(fmt),
                    width=width,
                    height=height,
                    fps=_rates(fd, fmt, width, height),
                )
            except ValidationError:
                continue  # a size or rate outside any camera's (a driver bug): leave it out


def _formats(fd: int) -> Iterator[int]:
    for index in range(MAX_FORMATS):
        desc = _FmtDesc(index=index, type=BUF_TYPE_VIDEO_CAPTURE)
        if not _ask(fd, VIDIOC_ENUM_FMT, desc):
            return
        if _readable(desc.pixelformat):
            yield desc.pixelformat


def _sizes(fd: int, fmt: int) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    for index in range(MAX_SIZES):
        size = _FrmSizeEnum(index=index, pixel_format=fmt)
        if not _ask(fd, VIDIOC_ENUM_FRAMESIZES, size):
            break
        if size.type == DISCRETE:
            sizes.append((size.u.discrete.width, size.u.discrete.height))
            continue
        steps = size.u.stepwise
        step_w, step_h = (
            (1, 1) if size.type == CONTINUOUS else (steps.step_width, steps.step_height)
        )
        sizes = expand_sizes(
            (steps.min_width, steps.max_width, step_w), (steps.min_height, steps.max_height, step_h)
        )
        break  # a range is the only entry
    unique = dict.fromkeys(s for s in sizes if 0 < s[0] <= MAX_SIDE and 0 < s[1] <= MAX_SIDE)
    return sorted(unique, key=lambda s: (s[0] * s[1], s[0]), reverse=True)


def _rates(fd: int, fmt: int, width: int, height: int) -> tuple[float, ...]:
    rates: list[float] = []
    for index in range(MAX_INTERVALS):
        ival = _FrmIvalEnum(index=index, pixel_format=fmt, width=width, height=height)
        if not _ask(fd, VIDIOC_ENUM_FRAMEINTERVALS, ival):
            break
        if ival.type == DISCRETE:
            rates.extend(_rate(ival.u.discrete))
            continue
        steps = ival.u.stepwise
        low, high = _interval(steps.min), _interval(steps.max)
        step = None if ival.type == CONTINUOUS else _interval(steps.step)
        if low is not None and high is not None:
            rates = expand_rates(low, high, step)
        break
    unique = sorted({round(r, 3) for r in rates if 0 < r <= 1000}, reverse=True)
    return tuple(unique[:MAX_RATES])


def _ask(fd: int, request: int, struct: ctypes.Structure) -> bool:
    """Run one enumeration ioctl: True with an answer, False at the end of the list.

    EINVAL ends every list; ENOTTY on sizes or rates means the driver does not list them.
    A node that captures nothing (EINVAL on the first format), is no V4L2 device (ENOTTY
    on formats) or fails otherwise (EIO; ENODEV when unplugged meanwhile) stops the reading.
    """
    try:
        fcntl.ioctl(fd, request, struct)
    except OSError as exc:
        name = _NAMES[request]
        first_format = request == VIDIOC_ENUM_FMT and getattr(struct, "index", 0) == 0
        if exc.errno == errno.EINVAL and first_format:
            raise _Unanswered(f"{name}: no capture formats") from None
        if exc.errno == errno.EINVAL or (exc.errno == errno.ENOTTY and request != VIDIOC_ENUM_FMT):
            return False
        raise _Unanswered(f"{name}: {exc.strerror or exc}") from None
    return True


_NAMES = {
    VIDIOC_ENUM_FMT: "VIDIOC_ENUM_FMT",
    VIDIOC_ENUM_FRAMESIZES: "VIDIOC_ENUM_FRAMESIZES",
    VIDIOC_ENUM_FRAMEINTERVALS: "VIDIOC_ENUM_FRAMEINTERVALS",
}


def fourcc_text(code: int) -> str:
    """0x47504a4d -> "MJPG"; trailing spaces dropped ("Y16 " -> "Y16")."""
    return code.to_bytes(4, "little").decode("ascii").rstrip(" ")


def _readable(code: int) -> bool:
    """Whether a format code is printable as a FourCC (big-endian variants are not)."""
    return _FOURCC.fullmatch(code.to_bytes(4, "little").rstrip(b" ")) is not None


_FOURCC = re.compile(rb"[0-9A-Za-z_.-]{1,4}")


def _interval(fract: _Fract) -> Fraction | None:
    return Fraction(fract.numerator, fract.denominator) if fract.denominator else None


def _rate(fract: _Fract) -> list[float]:
    """A frame interval (seconds per frame) as frames per second."""
    return [fract.denominator / fract.numerator] if fract.numerator and fract.denominator else []


def expand_sizes(
    width: tuple[int, int, int], height: tuple[int, int, int]
) -> list[tuple[int, int]]:
    """The common sizes within (min, max, step) of each side, and the largest size."""

    def fits(value: int, side: tuple[int, int, int]) -> bool:
        low, high, step = side
        return low <= value <= high and (value - low) % max(step, 1) == 0

    common = [(w, h) for w, h in COMMON_SIZES if fits(w, width) and fits(h, height)]
    return [*common, (width[1], height[1])]


def expand_rates(low: Fraction, high: Fraction, step: Fraction | None) -> list[float]:
    """Common rates whose frame interval lies in [low, high] on its steps, and the highest.

    `low` and `high` are frame intervals (seconds per frame); `step` is None for a
    continuous range.
    """
    if low <= 0 or high < low:
        return []

    def fits(rate: int) -> bool:
        interval = Fraction(1, rate)
        on_step = step is None or step <= 0 or ((interval - low) / step).denominator == 1
        return low <= interval <= high and on_step

    return [float(1 / low), *(float(r) for r in COMMON_RATES if fits(r))]


# ---------------------------------------------------------------------------------------------
# once per appearance


class ModeCache:
    """Modes read once per device appearance.

    The key names an appearance (node, sys path, udev's initialization time): a device seen
    again in the next listing keeps its modes without a syscall; one missing from a listing
    is forgotten, so a camera plugged back in is read again. A failed reading is retried
    after `retry_after` seconds, since a node udev has just announced may not answer yet.
    """

    def __init__(
        self,
        read: Callable[[str], ModeRead] = read_modes,
        retry_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._retry_after = retry_after
        self._clock = clock
        self._known: dict[Hashable, _Known] = {}
        self.reads = 0  # nodes opened, for tests and benchmarks

    def with_modes(self, listing: Iterable[tuple[Hashable, Device]]) -> list[Device]:
        """Each device of one complete listing with its modes, reading only new ones."""
        now = self._clock()
        kept: dict[Hashable, _Known] = {}
        devices = []
        for key, device in listing:
            known = kept.get(key) or self._known.get(key)
            if known is None or (known.read.error and now - known.when >= self._retry_after):
                self.reads += 1
                known = _Known(self._read(device.node), now)
            kept[key] = known
            devices.append(known.apply(device))
        self._known = kept
        return devices


@dataclass
class _Known:
    """One appearance's reading, and the last device it was applied to (facts seldom change
    between passes, so the same Device comes back without a copy)."""

    read: ModeRead
    when: float
    facts: Device | None = None
    device: Device | None = None

    def apply(self, facts: Device) -> Device:
        if self.device is None or facts != self.facts:
            self.facts, self.device = facts, self.read.apply(facts)
        return self.device
