"""The old camera service's viewer API on camctl's view: its shapes, codes, notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_view import TOKEN, View, serving

pytestmark = pytest.mark.anyio
CAMERA_KEYS = {"device", "status", "name", "resolution", "fps", "streams", "recording",
               "recording_session", "current_file", "elapsed_time"}  # fmt: skip


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[View]:
    async with serving(tmp_path_factory.mktemp("compat")) as v:
        yield v


async def test_camera_list(view: View) -> None:
    result = await view.result("get_camera_list")
    assert (result["total"], result["connected"]) == (4, 3)
    front = next(c for c in result["cameras"] if c["name"] == "front-door")
    assert set(front) == CAMERA_KEYS
    assert front == front | {"device": "/dev/video0", "status": "CONNECTED",
                             "resolution": "1280x720", "fps": 30, "recording": True}  # fmt: skip
    assert front["streams"]["rtsp"] == "rtsp://127.0.0.1:8554/cams/front-door"
    assert set(front["streams"]) == {"rtsp", "webrtc", "hls"}
    yard = next(c for c in result["cameras"] if c["name"] == "yard")
    assert yard["status"] == "DISCONNECTED" and yard["recording"] is False
    workshop = next(c for c in result["cameras"] if c["name"] == "workshop")
    assert workshop["recording"] is False  # no Recording declared for it


@pytest.mark.parametrize(
    "device",
    ["/dev/video2", "/dev/v4l/by-id/usb-046d_0825_5F3A1B20-video-index0", "garage"],
)
async def test_camera_status_by_node_link_or_name(view: View, device: str) -> None:
    result = await view.result("get_camera_status", {"device": device})
    assert result["name"] == "garage" and result["resolution"] == "640x480"
    assert set(result) == CAMERA_KEYS | {"metrics", "capabilities"}
    assert set(result["metrics"]) == {"bytes_sent", "readers", "uptime"}
    assert result["capabilities"] == {"formats": ["MJPEG", "YUYV"], "resolutions": ["640x480"]}


async def test_camera_status_of_an_unknown_device(view: View) -> None:
    answer = await view.call("get_camera_status", {"device": "/dev/video42"})
    assert answer["error"]["code"] == -1000


async def test_streams(view: View) -> None:
    streams = {s["name"]: s for s in await view.result("get_streams")}
    assert set(streams) == {"cams/front-door", "cams/garage", "cams/workshop", "cams/yard"}
    front = streams["cams/front-door"]
    assert set(front) == {"name", "source", "ready", "readers", "bytes_sent"}
    assert front["ready"] is True and front["readers"] == 0
    assert streams["cams/garage"]["ready"] is False  # on demand: nobody watching


async def test_files(view: View) -> None:
    assert await view.result("list_recordings") == {
        "files": [], "total": 0, "limit": 100, "offset": 0}  # fmt: skip
    assert (await view.result("list_snapshots", {"limit": 5, "offset": 10}))["limit"] == 5
    for method in ("get_recording_info", "get_snapshot_info"):
        answer = await view.call(method, {"filename": "a.mp4"})
        assert answer["error"]["code"] == -1005


async def test_authenticate(view: View) -> None:
    good = await view.result("authenticate", {"auth_token": TOKEN, "auth_type": "jwt"})
    assert good["authenticated"] is True and good["role"] == "viewer"
    assert set(good) == {"authenticated", "role", "permissions", "expires_at", "session_id"}
    also = await view.call("authenticate", {"token": TOKEN}, token=None)
    assert also["result"]["authenticated"] is True
    bad = await view.call("authenticate", {"auth_token": "nope"}, token=None)
    assert bad["error"]["code"] == -32001
    wrong_type = await view.call("authenticate", {"auth_token": TOKEN, "auth_type": "magic"})
    assert wrong_type["error"]["code"] == -32602


async def test_old_websocket_path_notifies_camera_status(tmp_path: Path) -> None:
    async with serving(tmp_path) as v, await v.ws("/ws", token=None) as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "authenticate",
                            "params": {"auth_token": TOKEN}})  # fmt: skip
        assert (await ws.receive_json())["result"]["authenticated"]
        text = v.devices.read_text()
        v.devices.write_text(text[: text.index("  - node: /dev/video2")])
        while True:
            message = json.loads(await asyncio.wait_for(ws.receive_str(), 10))
            if message.get("params", {}).get("name") == "garage":
                break
        assert message["method"] == "camera_status_update" and "id" not in message
        assert message["params"]["status"] == "DISCONNECTED"
        assert set(message["params"]) == {"device", "status", "name", "resolution", "fps",
                                          "streams"}  # fmt: skip
