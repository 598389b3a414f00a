"""The mode a Stream captures in: as declared, or the camera's best mode filling in what the
Stream leaves out; a mode the camera does not offer is refused, naming the closest ones.

A camera whose modes are unknown (none read, or `modesError`) is never refused: what the
Stream leaves out is then camctl's default (DEFAULT_CAPTURE).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from controller.api.device import Device, Mode
from controller.api.kinds import Capture, VideoChoice, VideoSpec
from controller.api.modes import INPUT_OF, best_mode, closest_modes, rate_text, supports
from controller.reconcile.render import DEFAULT_VIDEO

_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Chosen:
    capture: Capture
    choice: VideoChoice


@dataclass(frozen=True)
class Unsupported:
    message: str


# (id of the video, id of the modes) -> (the video, the modes, the answer). Documents keep
# their VideoSpec and devices their modes while unchanged, so a pass asks once per Stream,
# without hashing either; keeping both in the entry makes an id reused by a new object a
# miss, never a wrong answer.
_Entry = tuple[VideoSpec, tuple[Mode, ...], Chosen | Unsupported]
_answers: dict[tuple[int, int], _Entry] = {}


def choose(video: VideoSpec | None, device: Device) -> Chosen | Unsupported:
    """The mode for `video` on `device` (see the module docstring); no `video` at all
    leaves the whole mode to the camera."""
    video = video or DEFAULT_VIDEO
    modes = device.modes
    key = (id(video), id(modes))
    found = _answers.get(key)
    if found is not None and found[0] is video and found[1] is modes:
        return found[2]
    if len(_answers) >= _CACHE_LIMIT:
        _answers.clear()
    answer = _with_modes(video, modes) if modes else _without_modes(video)
    _answers[key] = (video, modes, answer)
    return answer


def _without_modes(video: VideoSpec) -> Chosen:
    capture = video.capture
    by = "spec" if _complete(video) else "default"
    return Chosen(capture, _choice(capture, by))


def _with_modes(video: VideoSpec, modes: tuple[Mode, ...]) -> Chosen | Unsupported:
    if _complete(video):
        capture = video.capture
        if supports(modes, *capture):
            return Chosen(capture, _choice(capture, "spec"))
        return Unsupported(_refusal(capture, modes))
    fitting = [m for m in modes if _fits(m, video)]
    best = best_mode(fitting, passthrough=video.codec == "copy")
    if best is None or best.input is None:
        return Unsupported(_refusal(video.capture, modes, partial=True))
    capture = Capture(best.input, best.width, best.height, video.fps or best.fps)
    return Chosen(capture, _choice(capture, "camera"))


def _complete(video: VideoSpec) -> bool:
    return None not in (video.input, video.width, video.height, video.fps)


def _fits(mode: Mode, video: VideoSpec) -> bool:
    """Whether the mode has every part of it that the Stream declares."""
    input = INPUT_OF.get(mode.format)
    if input is None or (video.input is not None and input != video.input):
        return False
    if video.width is not None and mode.width != video.width:
        return False
    if video.height is not None and mode.height != video.height:
        return False
    return video.fps is None or supports([mode], input, mode.width, mode.height, video.fps)


def _refusal(asked: Capture, modes: tuple[Mode, ...], partial: bool = False) -> str:
    wanted = f"{asked.input} {asked.width}x{asked.height}@{rate_text(asked.fps)}"
    wanted = "no mode fits spec.video" if partial else f"the camera does not offer {wanted}"
    closest = closest_modes(modes, *asked)
    offered = ", ".join(str(c) for c in closest) if closest else "none camctl can read"
    return f"{wanted}; closest: {offered} (`camctl devices -o wide` lists them all)"


@lru_cache(maxsize=1024)
def _choice(capture: Capture, by: str) -> VideoChoice:
    """Made once per mode: statuses are never edited, so they can share it."""
    return VideoChoice.model_validate({**capture._asdict(), "chosen_by": by})
