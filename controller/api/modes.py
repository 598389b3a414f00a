"""Choosing among a camera's modes: the best one, whether one is offered, the closest ones.

Pure functions over `Device.modes`, for the planner (a Stream that leaves its video out, a
Stream asking for a mode the camera lacks), `camctl devices` and error messages. Formats
are V4L2 FourCCs (MJPG, YUYV, …); a Stream's `video.input` names them as ffmpeg does
(mjpeg, yuyv422, …): `INPUT_OF` maps one to the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from controller.api.device import Mode, tidy_rate

# FourCC -> ffmpeg's `-input_format` (the values of VideoSpec.input). JPEG is what some
# cameras call the same Motion-JPEG stream.
INPUT_OF = {"MJPG": "mjpeg", "JPEG": "mjpeg", "YUYV": "yuyv422", "NV12": "nv12", "H264": "h264"}
# What camctl prefers to encode from: compressed MJPEG crosses USB at full size and rate,
# then the raw formats (YUYV is what every UVC camera offers).
ENCODE_ORDER = ("MJPG", "JPEG", "YUYV", "NV12")
PASSTHROUGH_ORDER = ("H264",)
MIN_FPS = 25  # smooth enough to watch; below it a bigger picture is not worth it
TARGET_FPS = 30  # above it the encoder and the network pay for little gain
_RATE_SLACK = 0.01  # 29.97 counts as 30, 24.975 as 25


@dataclass(frozen=True, order=True)
class ModeChoice:
    """One concrete mode: a format, a frame size and one of its frame rates."""

    format: str
    width: int
    height: int
    fps: float

    @property
    def input(self) -> str | None:
        """ffmpeg's name of the format (VideoSpec.input), None when camctl cannot use it."""
        return INPUT_OF.get(self.format)

    def __str__(self) -> str:
        return f"{self.format} {self.width}x{self.height}@{rate_text(self.fps)}"


def rate_text(fps: float) -> str:
    """30 -> "30", 7.5 -> "7.5", 29.97002997 -> "29.97"."""
    return str(tidy_rate(fps))


def best_mode(modes: Iterable[Mode], *, passthrough: bool = False) -> ModeChoice | None:
    """The mode a Stream that does not say gets: the largest frame at >= 25 fps.

    Among equal sizes MJPEG comes before raw YUYV, then NV12; with `passthrough` only H.264
    counts (the camera's own stream is passed on unencoded). The rate is the highest one up
    to 30 fps, else the lowest above it. When no mode reaches 25 fps, the smoothest wins
    (then the largest). Formats camctl cannot read and modes without frame rates are never
    chosen; None when nothing is left.
    """
    order = PASSTHROUGH_ORDER if passthrough else ENCODE_ORDER
    usable = [m for m in modes if m.format in order and m.fps]
    smooth = [(m, rates) for m in usable if (rates := [r for r in m.fps if _at_least(r, MIN_FPS)])]
    if smooth:
        mode, rates = max(smooth, key=lambda mr: (*_size(mr[0]), -order.index(mr[0].format)))
        return _choice(mode, _pick_rate(rates))
    if usable:
        mode = max(usable, key=lambda m: (max(m.fps), *_size(m), -order.index(m.format)))
        return _choice(mode, max(mode.fps))
    return None


def supports(modes: Iterable[Mode], input: str, width: int, height: int, fps: float) -> bool:
    """Whether the camera offers this ffmpeg input format at this size and rate.

    A rate within 1% counts (a camera's 29.97 serves `fps: 30`).
    """
    return any(
        INPUT_OF.get(m.format) == input
        and (m.width, m.height) == (width, height)
        and any(_close(r, fps) for r in m.fps)
        for m in modes
    )


def closest_modes(
    modes: Iterable[Mode], input: str, width: int, height: int, fps: float, count: int = 3
) -> list[ModeChoice]:
    """The `count` offered modes nearest to the one asked for, for error messages.

    Nearest by frame size first (|Δwidth| + |Δheight|), then the same input format before
    another, then by frame rate; one entry per format and size, at its rate nearest to `fps`.
    Only formats camctl can read are offered.
    """
    choices = {
        (m.format, m.width, m.height): _choice(m, min(m.fps, key=lambda r: (abs(r - fps), -r)))
        for m in modes
        if m.format in INPUT_OF and m.fps
    }

    def distance(c: ModeChoice) -> tuple[int, bool, float, int]:
        size = abs(c.width - width) + abs(c.height - height)
        return size, c.input != input, abs(c.fps - fps), -c.width * c.height

    return sorted(choices.values(), key=distance)[:count]


def summary(modes: Sequence[Mode], sizes_per_format: int = 3) -> str:
    """A one-line view: `MJPG 1920x1080@30, 1280x720@60 (+4); YUYV 640x480@30`.

    Per format (in the camera's order) its largest sizes, each at its highest rate.
    """
    by_format: dict[str, list[Mode]] = {}
    for mode in modes:
        by_format.setdefault(mode.format, []).append(mode)
    parts = []
    for fourcc, listed in by_format.items():
        largest = sorted(listed, key=_size, reverse=True)
        shown = ", ".join(
            f"{m.width}x{m.height}@{rate_text(max(m.fps)) if m.fps else '?'}"
            for m in largest[:sizes_per_format]
        )
        more = len(largest) - sizes_per_format
        parts.append(f"{fourcc} {shown}" + (f" (+{more})" if more > 0 else ""))
    return "; ".join(parts)


def _choice(mode: Mode, fps: float) -> ModeChoice:
    return ModeChoice(mode.format, mode.width, mode.height, tidy_rate(fps))


def _size(mode: Mode) -> tuple[int, int]:
    return mode.width * mode.height, mode.width


def _pick_rate(rates: Sequence[float]) -> float:
    calm = [r for r in rates if not _above(r, TARGET_FPS)]
    return max(calm) if calm else min(rates)


def _at_least(rate: float, floor: float) -> bool:
    return rate >= floor * (1 - _RATE_SLACK)


def _above(rate: float, ceiling: float) -> bool:
    return rate > ceiling * (1 + _RATE_SLACK)


def _close(rate: float, wanted: float) -> bool:
    return abs(rate - wanted) <= wanted * _RATE_SLACK
