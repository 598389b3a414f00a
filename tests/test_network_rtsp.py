"""The transcoding command of a network camera, run by the real ffmpeg against a real RTSP
camera: GStreamer's RTSP server (tests/rtsp_camera.py) serving H.264 behind Basic auth.

The command camctl renders pulls the camera with the credentials it inserted, scales and
encodes as the Stream says, and publishes over RTSP to a listening ffmpeg standing in for
MediaMTX, which must decode frames of the declared size. Wrong credentials get nothing.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_render import FFMPEG, free_port, publish_when_listening

from controller.api.credentials import Credentials
from controller.api.kinds import Camera, Stream, parse_resource
from controller.reconcile.render import network_path_config, source_url

CAMERA_SCRIPT = Path(__file__).resolve().parent / "rtsp_camera.py"
USER, PASSWORD = "admin", "s3cr:t@x/%y"  # every character that must be percent-encoded
SECONDS = 3
WIDTH, HEIGHT = 320, 240


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    assert FFMPEG, "ffmpeg is missing: install Debian's ffmpeg (make test does, as root)"
    return FFMPEG


@pytest.fixture(scope="module")
def camera() -> Iterator[str]:
    """rtsp://127.0.0.1:PORT/cam, served until the module's tests are done."""
    server = subprocess.Popen(
        [sys.executable, str(CAMERA_SCRIPT), "--user", USER, "--password", PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("port "):
            server.kill()
            errors = server.stderr.read() if server.stderr else ""
            pytest.fail(
                "GStreamer's RTSP server did not start; install Debian's gir1.2-gst-rtsp-server-1.0"
                f" gstreamer1.0-plugins-base -good -ugly (make test does, as root):\n{errors}",
                pytrace=False,
            )
        yield f"rtsp://127.0.0.1:{int(line.split()[1])}/cam"
    finally:
        server.kill()
        server.wait(10)


def documents(url: str, transport: str, video: dict[str, object]) -> tuple[Camera, Stream]:
    meta = {"apiVersion": "camctl.dev/v1alpha1", "metadata": {"name": "gate"}}
    spec = {"url": url, "transport": transport, "credentials": {"file": "gate.yaml"}}
    camera = parse_resource({**meta, "kind": "Camera", "spec": spec})
    stream = parse_resource({**meta, "kind": "Stream", "spec": {"camera": "gate", "video": video}})
    assert isinstance(camera, Camera) and isinstance(stream, Stream)
    return camera, stream


def rendered(url: str, transport: str, password: str = PASSWORD) -> str:
    video = {"width": WIDTH, "height": HEIGHT, "fps": 10, "bitrate": "300k"}
    camera, stream = documents(url, transport, video)
    source = source_url(url, Credentials(USER, password))
    command: str = network_path_config(stream, camera, source, None, None)["runOnInit"]
    return command


def as_mediamtx_runs_it(command: str, port: int) -> list[str]:
    """Expand what MediaMTX expands, split shell-style; stop after SECONDS of output."""
    args = shlex.split(command.replace("$RTSP_PORT", str(port)).replace("$MTX_PATH", "cams/gate"))
    assert args[-3:-1] == ["-f", "rtsp"], args
    return [*args[:-3], "-t", str(SECONDS), *args[-3:]]


@pytest.mark.parametrize("transport", ["tcp", "automatic"])
def test_ffmpeg_pulls_the_camera_and_publishes_what_the_stream_declares(
    ffmpeg: str, camera: str, transport: str, tmp_path: Path
) -> None:
    port = free_port()
    received = tmp_path / "received.framecrc"
    listener = subprocess.Popen(
        [
            *(ffmpeg, "-v", "error", "-rtsp_flags", "listen", "-timeout", "30"),
            *("-i", f"rtsp://127.0.0.1:{port}/cams/gate", "-f", "framecrc", str(received)),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        publisher = publish_when_listening(as_mediamtx_runs_it(rendered(camera, transport), port))
        assert publisher.returncode == 0, publisher.stderr
        assert listener.wait(timeout=30) == 0, listener.stderr.read() if listener.stderr else ""
    finally:
        listener.kill()
    frames = [line for line in received.read_text().splitlines() if not line.startswith("#")]
    assert len(frames) >= 10, received.read_text()
    # framecrc: stream, dts, pts, duration, size, crc; a decoded yuv420p frame of the size asked
    assert {int(line.split(",")[4]) for line in frames} == {WIDTH * HEIGHT * 3 // 2}


def test_wrong_credentials_get_nothing_and_ffmpeg_gives_up(
    ffmpeg: str, camera: str, tmp_path: Path
) -> None:
    args = as_mediamtx_runs_it(rendered(camera, "tcp", password="guess"), free_port())
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "401" in done.stderr, done.stderr
