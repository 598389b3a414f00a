"""Rendering Streams as MediaMTX path configs, and the real ffmpeg running the commands:
publishing over RTSP, and encoding at the declared bitrate, keyframe interval, size and rate."""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from controller.api.device import Device
from controller.api.kinds import Recording, Stream, VideoSpec, parse_resource
from controller.reconcile.render import (
    RECORD_FIELDS,
    choose_device,
    differing,
    encoder_args,
    ffmpeg_command,
    path_config,
)

DEVICE = Device(
    node="/dev/video0",
    by_id="/dev/v4l/by-id/usb-046d_C920_A1B2C3D4-video-index0",
    by_path="/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0",
)


def parsed(kind: str, spec: dict[str, Any]) -> Any:
    doc = {"apiVersion": "camctl.dev/v1alpha1", "kind": kind, "metadata": {"name": "front"}}
    return parse_resource({**doc, "spec": spec})


def stream(**spec: Any) -> Stream:
    result = parsed("Stream", {"camera": "front", **spec})
    assert isinstance(result, Stream)
    return result


def recording(**spec: Any) -> Recording:
    result = parsed("Recording", {"stream": "front", **spec})
    assert isinstance(result, Recording)
    return result


def test_device_choice_prefers_the_setting_then_stable_links() -> None:
    assert choose_device(DEVICE, "byId").path == DEVICE.by_id
    assert choose_device(DEVICE, "byPath").link == "byPath"
    assert choose_device(DEVICE, "node").path == "/dev/video0"
    no_serial = Device(node="/dev/video4", by_path="/dev/v4l/by-path/x")
    assert choose_device(no_serial, "byId").link == "byPath"
    bare = Device(node="/dev/video6")
    assert choose_device(bare, "byId").path == "/dev/video6"


def test_always_mode_uses_run_on_init_and_clears_on_demand() -> None:
    conf = path_config(stream(), "/dev/video0", None, None)
    assert conf["runOnInit"].startswith("ffmpeg ") and conf["runOnInitRestart"] is True
    assert conf["runOnDemand"] == "" and conf["runOnDemandRestart"] is False
    assert conf["source"] == "publisher"
    assert conf["record"] is False


def test_on_demand_mode_uses_run_on_demand() -> None:
    conf = path_config(stream(mode="onDemand"), "/dev/video0", None, None)
    assert conf["runOnInit"] == "" and conf["runOnDemand"].startswith("ffmpeg ")


def test_recording_fields() -> None:
    rec = recording(format="mpegts", segmentDuration="10m", retention="2d", root="/r")
    conf = path_config(stream(), "/dev/video0", rec, "/r")
    assert {f: conf[f] for f in RECORD_FIELDS} == {
        "record": True,
        "recordPath": "/r/%path/%Y-%m-%d_%H-%M-%S-%f",
        "recordFormat": "mpegts",
        "recordPartDuration": "1s",
        "recordSegmentDuration": "10m0s",
        "recordDeleteAfter": "2d",
    }


def test_a_disabled_recording_changes_only_record() -> None:
    """Retention keeps applying to what was written; nothing else of the path moves."""
    on = path_config(stream(), "/dev/video0", recording(), "/r")
    off = path_config(stream(), "/dev/video0", recording(enabled=False), "/r")
    assert differing(off, on) == {"record": False}


def test_without_a_usable_root_only_record_off_is_managed() -> None:
    assert path_config(stream(), "/dev/video0", recording(), None) == path_config(
        stream(), "/dev/video0", None, None
    )


def test_toggling_recording_changes_only_record_fields() -> None:
    """MediaMTX applies record fields in place: turning recording on must not restart video."""
    before = path_config(stream(), DEVICE.by_id or "", None, None)
    after = path_config(stream(), DEVICE.by_id or "", recording(), "/r")
    assert set(differing(after, before)) <= set(RECORD_FIELDS)


def test_durations_compare_by_length_and_redacted_values_are_left_alone() -> None:
    wanted = {"recordSegmentDuration": "1h0m0s", "runOnInit": "x"}
    assert differing(wanted, {"recordSegmentDuration": "60m", "runOnInit": "x"}) == {}
    assert differing(wanted, {"recordSegmentDuration": "1h", "runOnInit": "<redacted>"}) == {}
    assert differing(wanted, {"recordSegmentDuration": "2h", "runOnInit": "x"}) == {
        "recordSegmentDuration": "1h0m0s"
    }


def test_command_names_the_device_and_publishes_to_mediamtx() -> None:
    command = ffmpeg_command(VideoSpec(), "/dev/v4l/by-id/x")
    args = shlex.split(command)
    assert args[args.index("-i") + 1] == "/dev/v4l/by-id/x"
    assert args[-3:] == ["-f", "rtsp", "rtsp://localhost:$RTSP_PORT/$MTX_PATH"]
    assert args[args.index("-input_format") + 1] == "mjpeg"
    assert args[args.index("-video_size") + 1] == "1280x720"


# --- the encoder settings ------------------------------------------------------------


def test_encoder_args_of_the_default_stream() -> None:
    """2M is 2,000,000 bit/s, capped at that rate over 2 s of buffer; a keyframe every 2 s."""
    assert encoder_args(VideoSpec()) == [
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-tune", "zerolatency"),
        *("-b:v", "2000000", "-maxrate", "2000000", "-bufsize", "4000000", "-g", "60"),
    ]


def value_of(args: list[str], option: str) -> str:
    assert args.count(option) == 1, (option, args)
    return args[args.index(option) + 1]


@pytest.mark.parametrize(
    ("video", "encoder", "bits", "gop"),
    [
        ({}, "libx264", 2_000_000, 60),
        ({"fps": 15, "bitrate": "800k"}, "libx264", 800_000, 30),
        ({"fps": 25, "bitrate": "1.5M"}, "libx264", 1_500_000, 50),
        ({"fps": 10, "bitrate": "2500000", "keyframeInterval": 10}, "libx264", 2_500_000, 10),
        ({"bitrate": "4M", "keyframeInterval": 90}, "libx264", 4_000_000, 90),
        ({"encoder": "h264_v4l2m2m", "fps": 20, "bitrate": "1M"}, "h264_v4l2m2m", 1_000_000, 40),
    ],
)
def test_the_rendered_command_encodes_at_the_declared_bitrate_and_keyframe_interval(
    video: dict[str, Any], encoder: str, bits: int, gop: int
) -> None:
    """A Stream's `video` as written in its document, to the command MediaMTX runs."""
    for mode, field in (("always", "runOnInit"), ("onDemand", "runOnDemand")):
        conf = path_config(stream(mode=mode, video=video), "/dev/video0", None, None)
        args = shlex.split(conf[field])
        assert value_of(args, "-c:v") == encoder
        assert value_of(args, "-b:v") == value_of(args, "-maxrate") == str(bits)
        assert value_of(args, "-bufsize") == str(2 * bits)
        assert value_of(args, "-g") == str(gop)
        assert value_of(args, "-pix_fmt") == "yuv420p"


def test_a_passed_through_stream_is_not_encoded_again() -> None:
    video = {"input": "h264", "codec": "copy", "fps": 15}
    args = shlex.split(path_config(stream(video=video), "/dev/video0", None, None)["runOnInit"])
    assert value_of(args, "-c:v") == "copy"
    assert not {"-b:v", "-maxrate", "-bufsize", "-g", "-pix_fmt"} & set(args)


# --- the real ffmpeg -----------------------------------------------------------------

FFMPEG = shutil.which("ffmpeg")


FFPROBE = shutil.which("ffprobe")


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    assert FFMPEG, "ffmpeg is missing: install Debian's ffmpeg (make test does, as root)"
    return FFMPEG


@pytest.fixture(scope="module")
def ffprobe() -> str:
    assert FFPROBE, "ffprobe is missing: install Debian's ffmpeg (make test does, as root)"
    return FFPROBE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_mediamtx_runs_it(command: str, port: int, path: str, source: list[str]) -> list[str]:
    """Expand the variables MediaMTX sets, split shell-style, swap the camera for `source`."""
    expanded = command.replace("$RTSP_PORT", str(port)).replace("$MTX_PATH", path)
    args = shlex.split(expanded)
    start = args.index("-f")  # the input side: -f v4l2 … -i DEVICE
    end = args.index("-i") + 2
    assert args[start + 1] == "v4l2"
    return [*args[:start], *source, *args[end:]]


VIDEOS = [
    VideoSpec(),
    VideoSpec(width=640, height=480, fps=15, bitrate="800k"),
    VideoSpec(input="yuyv422", width=320, height=240, fps=10, bitrate="300k", keyframe_interval=10),
]


@pytest.mark.parametrize("video", VIDEOS, ids=lambda v: "{}x{}@{}".format(*v.capture[1:]))
def test_ffmpeg_publishes_rendered_encoder_settings_over_rtsp(
    ffmpeg: str, video: VideoSpec, tmp_path: Path
) -> None:
    source = [
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={video.capture.width}x{video.capture.height}:rate={video.capture.fps}",
        "-t",
        "2",
    ]
    publish_and_receive(ffmpeg, ffmpeg_command(video, "/dev/video0"), source, tmp_path)


def test_ffmpeg_passes_h264_through(ffmpeg: str, tmp_path: Path) -> None:
    clip = tmp_path / "camera.mp4"  # an H.264 camera's output, keyframe every second
    make_clip = f"{ffmpeg} -v error -f lavfi -i testsrc=size=640x480:rate=15 -t 3 -g 15 "
    make_clip += f"-c:v libx264 -pix_fmt yuv420p {clip}"
    subprocess.run(shlex.split(make_clip), check=True, timeout=60)
    video = VideoSpec(input="h264", codec="copy", width=640, height=480, fps=15)
    source = ["-re", "-i", str(clip)]
    publish_and_receive(ffmpeg, ffmpeg_command(video, "/dev/video0"), source, tmp_path)


def publish_and_receive(ffmpeg: str, command: str, source: list[str], tmp_path: Path) -> None:
    """A listening ffmpeg stands in for MediaMTX's RTSP server and must receive frames."""
    port = free_port()
    received = tmp_path / "received.framecrc"
    listener = subprocess.Popen(
        [
            ffmpeg,
            "-v",
            "error",
            "-rtsp_flags",
            "listen",
            "-timeout",
            "20",
            "-i",
            f"rtsp://127.0.0.1:{port}/cams/front",
            "-f",
            "framecrc",  # one line per decoded frame
            str(received),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        publisher = publish_when_listening(as_mediamtx_runs_it(command, port, "cams/front", source))
        assert publisher.returncode == 0, publisher.stderr
        assert listener.wait(timeout=30) == 0, listener.stderr.read() if listener.stderr else ""
    finally:
        listener.kill()
    frames = [line for line in received.read_text().splitlines() if not line.startswith("#")]
    assert len(frames) >= 5, received.read_text()


def publish_when_listening(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The listener needs a moment to bind; retry the publisher while it is refused."""
    for _ in range(50):
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if "Connection refused" not in result.stderr:
            return result
        subprocess.run(["sleep", "0.1"], check=True)
    return result


# --- what the real ffmpeg encodes ----------------------------------------------------

SECONDS = 4
# testsrc2, not testsrc: testsrc is so plain that libx264 spends as little as half the target
# bitrate on it, so a halved -b:v would still pass. On testsrc2 it spends 1.1-1.3x the target
# in 4 s (the first keyframe weighs most), and 0.55-0.65x when -b:v is halved.
BITRATE_MARGIN = (0.75, 1.5)
ENCODED = [  # the video, its bitrate in bit/s and its frames between keyframes
    (VideoSpec(), 2_000_000, 60),
    (VideoSpec(width=640, height=480, fps=15, bitrate="800k"), 800_000, 30),
    (VideoSpec(width=320, height=240, fps=10, bitrate="300k", keyframe_interval=10), 300_000, 10),
]


def encoded_as_mediamtx_runs_it(ffmpeg: str, video: VideoSpec, out: Path) -> None:
    """The rendered command, reading testsrc2 instead of the camera and writing `out`."""
    source = [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={video.capture.width}x{video.capture.height}:rate={video.capture.fps}",
    ]
    args = as_mediamtx_runs_it(ffmpeg_command(video, "/dev/video0"), 8554, "cams/front", source)
    assert args[-3:-1] == ["-f", "rtsp"], args
    args = [*args[:-3], "-t", str(SECONDS), "-f", "matroska", str(out)]  # a file, not MediaMTX
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def probe(ffprobe: str, file: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The video stream's parameters and its packets (pts, size, flags), in order."""
    entries = "stream=codec_name,width,height,pix_fmt:packet=pts_time,size,flags"
    command = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", entries]
    done = subprocess.run(
        [*command, "-of", "json", str(file)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    packets = sorted(found["packets"], key=lambda p: float(p["pts_time"]))
    return found["streams"][0], packets


@pytest.mark.parametrize(
    ("video", "bits", "gop"), ENCODED, ids=["{}x{}@{}".format(*v.capture[1:]) for v, *_ in ENCODED]
)
def test_ffmpeg_encodes_the_declared_keyframe_interval_bitrate_size_and_rate(
    ffmpeg: str, ffprobe: str, video: VideoSpec, bits: int, gop: int, tmp_path: Path
) -> None:
    out = tmp_path / "encoded.mkv"
    encoded_as_mediamtx_runs_it(ffmpeg, video, out)
    stream_, packets = probe(ffprobe, out)
    assert (stream_["codec_name"], stream_["pix_fmt"]) == ("h264", "yuv420p")
    assert (stream_["width"], stream_["height"]) == (video.capture.width, video.capture.height)

    frames = len(packets)
    assert frames == SECONDS * video.capture.fps
    pts = [float(p["pts_time"]) for p in packets]
    assert abs((pts[-1] - pts[0]) / (frames - 1) - 1 / video.capture.fps) < 0.001, "frame rate"

    keyframes = [i for i, p in enumerate(packets) if "K" in p["flags"]]
    assert keyframes == list(range(0, frames, gop))

    spent = sum(int(p["size"]) for p in packets) * 8 / (frames / video.capture.fps)
    low, high = BITRATE_MARGIN
    assert low * bits <= spent <= high * bits, f"{spent:.0f} bit/s spent for {bits}"
