"""Render a Stream (with its Camera's device and its Recording) as a MediaMTX path config.

The result holds exactly the fields camctl manages, so that turning a mode off writes the
old value back instead of leaving it. The record fields are the exception: without a
Recording only `record: false` is managed, because MediaMTX goes on deleting old segments
by `recordDeleteAfter` while recording is off, and writing its default back would cut the
retention of files already on disk.

A network Camera's Stream is either passed through (MediaMTX pulls `source`, the camera's
URL with its credentials inserted) or, with `video`, transcoded by an ffmpeg that pulls the
URL. Either way the credentials are in the config: whatever shows a config redacts it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

from controller.api.credentials import Credentials
from controller.api.device import Device
from controller.api.kinds import (
    Camera,
    Capture,
    DeviceLink,
    Recording,
    Stream,
    Transport,
    VideoSpec,
)
from controller.api.mediamtx import PathConfig
from controller.api.modes import rate_text
from controller.api.recorded import NAME_FORMAT
from controller.api.units import parse_bitrate, parse_duration
from controller.kit.redact import REDACTED

# Where under its root a Recording's segments go; camctl reads them back by this layout.
RECORD_LAYOUT = "%path/" + NAME_FORMAT
RECORD_FIELDS = (
    "record",
    "recordPath",
    "recordFormat",
    "recordPartDuration",
    "recordSegmentDuration",
    "recordDeleteAfter",
)
# Every path field camctl may write; any other field of a path is left as it is.
MANAGED_FIELDS = (
    "source",
    "sourceOnDemand",
    "rtspTransport",
    "runOnInit",
    "runOnInitRestart",
    "runOnDemand",
    "runOnDemandRestart",
    *RECORD_FIELDS,
)
DURATION_FIELDS = frozenset(
    {
        "recordPartDuration",
        "recordSegmentDuration",
        "recordDeleteAfter",
        "runOnDemandStartTimeout",
        "runOnDemandCloseAfter",
    }
)
PUBLISH_URL = "rtsp://localhost:$RTSP_PORT/$MTX_PATH"
DEFAULT_VIDEO = VideoSpec()  # a V4L2 Stream without `video`
# ffmpeg gives up on a camera silent this long (microseconds), so that MediaMTX restarts it.
NETWORK_TIMEOUT_US = 10_000_000
FFMPEG_TRANSPORT = {"tcp": "tcp", "udp": "udp", "multicast": "udp_multicast"}


@dataclass(frozen=True)
class DeviceChoice:
    """Which name of the device ffmpeg opens, and why that one."""

    path: str
    link: DeviceLink


def choose_device(device: Device, preferred: DeviceLink) -> DeviceChoice:
    """The preferred link if udev made it, else the next stable one, else the node."""
    order: list[DeviceLink] = [preferred, "byId", "byPath", "node"]
    names = {"byId": device.by_id, "byPath": device.by_path, "node": device.node}
    for link in order:
        if names[link]:
            return DeviceChoice(str(names[link]), link)
    raise AssertionError("a device always has a node")  # pragma: no cover


def ffmpeg_command(video: VideoSpec, device_path: str, capture: Capture | None = None) -> str:
    """The command MediaMTX runs to publish the camera; split shell-style, no shell.
    `capture`: the mode chosen for it (default: the one `video` asks for)."""
    before, after = _command_around_device(video, capture or video.capture)
    return f"{before} {shlex.quote(device_path)} {after}"


@lru_cache(maxsize=256)
def _command_around_device(video: VideoSpec, capture: Capture) -> tuple[str, str]:
    """The quoted command line before and after the device: shared by streams alike."""
    args = ["ffmpeg", "-hide_banner", "-loglevel", "warning"]
    args += ["-f", "v4l2", "-input_format", capture.input]
    size = f"{capture.width}x{capture.height}"
    args += ["-video_size", size, "-framerate", rate_text(capture.fps)]
    # MediaMTX expands $RTSP_PORT and $MTX_PATH itself, so they stay unquoted.
    output = shlex.join(encoder_args(video, capture.fps))
    return f"{shlex.join(args)} -i", f"{output} -f rtsp {PUBLISH_URL}"


def encoder_args(video: VideoSpec, fps: float | None = None) -> list[str]:
    """Output-side arguments (`fps`: the rate captured); tests run them through real ffmpeg."""
    if video.codec == "copy":
        return ["-c:v", "copy"]
    bits = parse_bitrate(video.bitrate)
    gop = video.keyframe_interval or round((fps or video.capture.fps) * 2)
    args = ["-c:v", video.encoder, "-pix_fmt", "yuv420p"]
    if video.encoder == "libx264":
        args += ["-preset", "ultrafast", "-tune", "zerolatency"]
    args += ["-b:v", str(bits), "-maxrate", str(bits), "-bufsize", str(2 * bits)]
    return [*args, "-g", str(gop)]


def record_path(root: str) -> str:
    return f"{root.rstrip('/')}/{RECORD_LAYOUT}"


def record_fields(recording: Recording | None, root: str | None) -> PathConfig:
    """Record fields; MediaMTX applies these in place, without restarting the path.

    Without a Recording (or with a root camctl may not use) only `record: false`: the other
    fields stay as they are, so the files already written keep their retention. A disabled
    Recording changes `record` only, in the same way.
    """
    if recording is None or root is None:
        return {"record": False}
    spec = recording.spec
    return {
        "record": spec.enabled,
        "recordPath": record_path(root),
        "recordFormat": spec.format,
        "recordPartDuration": spec.part_duration,
        "recordSegmentDuration": spec.segment_duration,
        "recordDeleteAfter": spec.retention,
    }


# Documents are never changed once loaded, nor are MediaMTX's answers (the client hands out
# the very objects of an unchanged list page): a pass over unchanged inputs renders and
# compares nothing again. Entries keep their inputs, so an id reused by a new object is a
# miss, never a wrong answer; the memos are dropped whole when they grow past the limit.
_MEMO_LIMIT = 8192
_ConfigKey = tuple[int, str, int, str | None, Capture | None]
_configs: dict[_ConfigKey, tuple[Stream, Recording | None, PathConfig]] = {}
_diffs: dict[int, tuple[Mapping[str, object], Mapping[str, object], PathConfig]] = {}


def path_config(
    stream: Stream,
    device_path: str,
    recording: Recording | None,
    root: str | None,
    capture: Capture | None = None,
) -> PathConfig:
    """The managed fields of the MediaMTX path that publishes `stream` (in the mode
    `capture`, when the planner chose one from the camera's). Read-only: the same inputs
    give the very same mapping."""
    key = (id(stream), device_path, id(recording), root, capture)
    hit = _configs.get(key)
    if hit is not None and hit[0] is stream and hit[1] is recording:
        return hit[2]
    if len(_configs) >= _MEMO_LIMIT:
        _configs.clear()
    config = _path_config(stream, device_path, recording, root, capture)
    _configs[key] = (stream, recording, config)
    return config


def _path_config(
    stream: Stream,
    device_path: str,
    recording: Recording | None,
    root: str | None,
    capture: Capture | None,
) -> PathConfig:
    command = ffmpeg_command(stream.spec.video or DEFAULT_VIDEO, device_path, capture)
    return _published_by(command, stream, recording, root)


def _published_by(
    command: str, stream: Stream, recording: Recording | None, root: str | None
) -> PathConfig:
    """A path an ffmpeg publishes to: always running, or started when read."""
    always = stream.spec.mode == "always"
    config = PathConfig(
        source="publisher",
        # Managed because a pulled source may have set it, and it is refused with a publisher.
        sourceOnDemand=False,
        runOnInit=command if always else "",
        runOnInitRestart=always,
        runOnDemand="" if always else command,
        runOnDemandRestart=not always,
    )
    config.update(record_fields(recording, root))
    return config


# --- network cameras -------------------------------------------------------------------


def source_url(url: str, credentials: Credentials | None) -> str:
    """The URL MediaMTX or ffmpeg pulls: `spec.url` with the credentials inserted, as
    `user:password@` (percent-encoded), or for SRT as the `passphrase` query parameter."""
    if credentials is None:
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() == "srt":
        secret = f"passphrase={quote(credentials.password, safe='')}"
        return urlunsplit(parts._replace(query=f"{parts.query}&{secret}".lstrip("&")))
    user = quote(credentials.username, safe="")
    userinfo = f"{user}:{quote(credentials.password, safe='')}@"
    return urlunsplit(parts._replace(netloc=userinfo + parts.netloc))


def network_path_config(
    stream: Stream, camera: Camera, source: str, recording: Recording | None, root: str | None
) -> PathConfig:
    """The managed fields of the path of a network Camera's `stream`; `source` is
    `source_url(...)`. Without `video` MediaMTX pulls the camera itself (on demand or not);
    with it an ffmpeg pulls, transcodes and publishes, as for a V4L2 camera."""
    video = stream.spec.video
    if video is not None:
        command = network_command(video, source, camera.spec.transport)
        return _published_by(command, stream, recording, root)
    return {
        "source": source,
        "sourceOnDemand": stream.spec.mode == "onDemand",
        "rtspTransport": camera.spec.transport,
        "runOnInit": "",
        "runOnInitRestart": False,
        "runOnDemand": "",
        "runOnDemandRestart": False,
        **record_fields(recording, root),
    }


def network_command(video: VideoSpec, source: str, transport: Transport) -> str:
    """The command that pulls a network camera, transcodes and publishes to MediaMTX: the
    size and rate given in `video` (else the camera's own), the encoder rules of V4L2."""
    args = ["ffmpeg", "-hide_banner", "-loglevel", "warning"]
    if urlsplit(source).scheme.lower() in ("rtsp", "rtsps"):
        if transport in FFMPEG_TRANSPORT:
            args += ["-rtsp_transport", FFMPEG_TRANSPORT[transport]]
        args += ["-timeout", str(NETWORK_TIMEOUT_US)]
    else:
        args += ["-rw_timeout", str(NETWORK_TIMEOUT_US)]
    args += ["-i", source, *_resized(video), *encoder_args(video)]
    return f"{shlex.join(args)} -f rtsp {PUBLISH_URL}"


def _resized(video: VideoSpec) -> list[str]:
    """Scaling and frame rate, only for what `video` names: a camera's own size otherwise."""
    given = video.model_fields_set
    if video.codec == "copy":
        return []
    args = []
    if given & {"width", "height"}:
        width = video.width if "width" in given else -2  # -2: keep the aspect, even
        height = video.height if "height" in given else -2
        args += ["-vf", f"scale={width}:{height}"]
    if "fps" in given:
        args += ["-r", str(video.fps)]
    return args


def normalize(field: str, value: Any) -> Any:
    """Compare as MediaMTX means it: durations by length, not spelling."""
    if field in DURATION_FIELDS and isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            return value
    return value


def destructive(changes: Mapping[str, object], actual: Mapping[str, object]) -> set[str]:
    """The changes that lose recordings: turning recording off, or shortening retention
    (MediaMTX deletes segments older than `recordDeleteAfter`; 0 keeps them all)."""
    losing = set()
    if changes.get("record") is False and actual.get("record") is True:
        losing.add("record")
    if "recordDeleteAfter" in changes:
        keep_before = _retention(actual.get("recordDeleteAfter"))
        keep_after = _retention(changes["recordDeleteAfter"])
        if keep_after is not None and (keep_before is None or keep_after < keep_before):
            losing.add("recordDeleteAfter")
    return losing


def _retention(value: Any) -> int | None:
    """Nanoseconds kept, None for forever; an unreadable value counts as forever, so that
    camctl never takes replacing it for anything but a cut."""
    try:
        nanos = parse_duration(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return nanos or None


def differing(desired: Mapping[str, object], actual: Mapping[str, object]) -> PathConfig:
    """Managed fields whose actual value differs; redacted reads are taken as equal. A new
    dict each time (callers take from it); worked out once per pair of inputs."""
    hit = _diffs.get(id(desired))
    if hit is not None and hit[0] is desired and hit[1] is actual:
        return hit[2].copy()
    if len(_diffs) >= _MEMO_LIMIT:
        _diffs.clear()
    found = _differing(desired, actual)
    _diffs[id(desired)] = (desired, actual, found)
    return found.copy()


def _differing(desired: Mapping[str, object], actual: Mapping[str, object]) -> PathConfig:
    changed = {
        field: value
        for field, value in desired.items()
        if (read := actual.get(field)) != value  # equal as read is equal as meant: fast path
        and read != REDACTED
        and normalize(field, read) != normalize(field, value)
    }
    return cast(PathConfig, changed)
