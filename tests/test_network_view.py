"""A network camera in the view: its status (MediaMTX's runtime state of its path), and the
old camera service's get_camera_list and notifications: CONNECTED while MediaMTX receives
from it, DISCONNECTED when it does not, named by its URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_view import serving

from controller.api.settings import Settings

pytestmark = pytest.mark.anyio
URL = "rtsp://192.0.2.10:554/h264/ch1/main"
GATE = f"""\
apiVersion: camctl.dev/v1alpha1
kind: Camera
metadata: {{name: gate}}
spec:
  url: {URL}
  credentials: {{file: gate.yaml}}
---
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {{name: gate}}
spec: {{camera: gate, path: cams/gate}}
"""


async def test_get_camera_list_tells_whether_mediamtx_receives_from_it(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "gate.yaml").write_text("username: admin\npassword: pw\n")
    settings = Settings(node_name="edge-01", credentials_roots=(str(credentials),))

    def prepare(docs: Path) -> None:
        (docs / "gate.yaml").write_text(GATE)

    async with serving(tmp_path, prepare, settings=settings) as view:
        run = view.run
        run.emulator.cameras["192.0.2.10:554"] = ("admin", "pw")
        run.emulator.runtime["cams/gate"] = {
            "tracks2": [{"codec": "H264", "codecProps": {"width": 1920, "height": 1080}}]
        }
        await run.settle()
        listed = await view.result("get_camera_list")
        gate = next(c for c in listed["cameras"] if c["name"] == "gate")
        assert gate["device"] == URL and gate["status"] == "CONNECTED"
        assert gate["resolution"] == "1920x1080"  # as MediaMTX receives it, passed through
        assert gate["streams"]["rtsp"] == "rtsp://127.0.0.1:8554/cams/gate"
        status = await view.result("get_camera_status", {"device": URL})
        assert status["name"] == "gate" and status["metrics"]["uptime"] >= 0
        camera = await view.result("cameras.get", {"name": "gate"})
        assert camera["status"]["source"]["connected"] is True

        async with await view.ws("/ws") as legacy:
            run.emulator.cameras.clear()  # the camera goes away
            await run.settle()
            heard = json.loads(await legacy.receive_str(timeout=5))
        assert heard["method"] == "camera_status_update"
        assert heard["params"]["device"] == URL and heard["params"]["status"] == "DISCONNECTED"
        listed = await view.result("get_camera_list")
        gate = next(c for c in listed["cameras"] if c["name"] == "gate")
        assert gate["status"] == "DISCONNECTED"
        camera = await view.result("cameras.get", {"name": "gate"})
        ready = next(c for c in camera["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "Unreachable")
