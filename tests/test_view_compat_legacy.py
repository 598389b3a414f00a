"""The old camera service's clients against camctl's /ws, driven as they drive it (see
legacy_client.py): per-call tokens, answers matched by id, results only. One test per
difference those clients hit (issue 16), each against a running controller and view.

Unplug and replug under umockdev: test_view_compat_hotplug.py. Field types of every
answer: test_view_compat_types.py.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from legacy_api import (
    AUTH_REFUSED,
    AUTHENTICATED,
    CAMERA_STATUS,
    CAPABILITIES,
    HEALTH_PART,
    HEALTH_SYSTEM,
    NOT_READY,
    READY,
    problems,
)
from legacy_client import OldClient
from test_view import ADMIN_TOKEN, TOKEN, View, serving, world
from test_view_recordings import TRAVERSALS, front_root, recorded_world

from controller.testing.harness import eventually, running
from controller.view.server import Limits
from controller.view.ws import WsLimits

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[View]:
    """Real segments on disk, front-door being written now. Read-only tests only."""
    base = tmp_path_factory.mktemp("legacy")
    async with serving(base, **recorded_world(base)) as v:
        v.run.emulator.record("cams/front-door", datetime.now(UTC) - timedelta(seconds=2), 2.0)
        await v.run.settle()
        yield v


@asynccontextmanager
async def old_client(view: View, token: str | None = TOKEN) -> AsyncIterator[OldClient]:
    async with view.http.ws_connect(f"{view.url}/ws") as ws:
        yield OldClient(ws, token)


def without_front_door(devices: Path) -> None:
    """Unplug /dev/video0 (front-door's camera) in the simulated devices file."""
    text = devices.read_text()
    start, end = text.index("  - node: /dev/video0"), text.index("  - node: /dev/video2")
    devices.write_text(text[:start] + text[end:])


# --- 1. an absent camera keeps its device path ------------------------------------------------


async def test_an_unplugged_camera_keeps_its_path(tmp_path: Path) -> None:
    async with serving(tmp_path) as v, old_client(v) as old:
        await old.result("authenticate", {"auth_token": TOKEN})
        without_front_door(v.devices)
        gone = await old.notification("camera_status_update", lambda p: p["name"] == "front-door")
        assert (gone["device"], gone["status"]) == ("/dev/video0", "DISCONNECTED")
        listed = await old.result("get_camera_list")
        front = next(c for c in listed["cameras"] if c["name"] == "front-door")
        assert (front["device"], front["status"]) == ("/dev/video0", "DISCONNECTED")
        status = await old.result("get_camera_status", {"device": "/dev/video0"})
        assert (status["name"], status["status"]) == ("front-door", "DISCONNECTED")
        answer = await v.call("get_camera_status", {"device": "/dev/video0"})  # /rpc too
        assert answer["result"]["name"] == "front-door", answer


async def test_an_absent_camera_keeps_its_path_across_a_restart(tmp_path: Path) -> None:
    """The status files the last run wrote name the path; the next run starts from them."""
    docs, devices = world(tmp_path)
    state, tokens = tmp_path / "state", tmp_path / "tokens"
    async with running(docs, devices, state, token_file=tokens) as run:
        await run.settle()
    without_front_door(devices)
    async with (
        running(docs, devices, state, token_file=tokens) as run,
        aiohttp.ClientSession() as http,
    ):
        await run.settle()
        v = View(run, http, docs, devices)
        listed = await v.result("get_camera_list")
        front = next(c for c in listed["cameras"] if c["name"] == "front-door")
        assert (front["device"], front["status"]) == ("/dev/video0", "DISCONNECTED")


# --- 2. the rate-limit answer carries the request's id ----------------------------------------


async def test_answers_over_the_rate_carry_their_request_ids(tmp_path: Path) -> None:
    limits = Limits(ws=WsLimits(rate=2.0))
    async with serving(tmp_path, limits=limits) as v, old_client(v) as old:
        sent = [await old.send("ping") for _ in range(8)]
        answers = [await old.answer(id_) for id_ in sent]  # matched by id, as the SDKs do
        limited = [a for a in answers if "error" in a]
        assert limited and all(a["error"]["code"] == -32002 for a in limited)
        assert [a["id"] for a in answers] == sent


# --- 3. a per-call token authenticates the connection -----------------------------------------


async def test_a_per_call_token_authenticates_the_connection(tmp_path: Path) -> None:
    limits = Limits(ws=WsLimits(auth_timeout=0.3))
    async with serving(tmp_path, limits=limits) as v, old_client(v) as old:
        listed = await old.result("get_camera_list", per_call=True)  # no authenticate call
        assert listed["total"] == 4
        await asyncio.sleep(0.6)  # past the time an unauthenticated connection is given
        assert await old.result("get_streams")  # no token this time: the connection has it
        without_front_door(v.devices)  # and it is subscribed to the notifications
        gone = await old.notification("camera_status_update", lambda p: p["name"] == "front-door")
        assert gone["status"] == "DISCONNECTED"


async def test_a_bad_per_call_token_is_refused(tmp_path: Path) -> None:
    async with serving(tmp_path) as v, old_client(v, token="nope") as old:
        answer = await old.answer(await old.send("get_camera_list", per_call=True))
        assert answer["error"]["code"] == -32001


# --- 4. a failed authenticate is a result on /ws ----------------------------------------------


async def test_a_bad_token_answers_a_result_on_ws_and_an_error_on_rpc(view: View) -> None:
    async with old_client(view) as old:
        refused = await old.result("authenticate", {"auth_token": "nope", "auth_type": "jwt"})
        assert problems(refused, AUTH_REFUSED) == [] and "unknown token" in refused["error"]
        missing = await old.result("authenticate", {})
        assert missing == {"authenticated": False, "error": "Missing token"}
        assert (await old.result("authenticate", {"token": TOKEN}))["authenticated"] is True
    answer = await view.call("authenticate", {"auth_token": "nope"}, token=None)
    assert answer["error"]["code"] == -32001 and "result" not in answer
    async with await view.ws(token=None) as ws:  # camctl's own WebSocket, too
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "authenticate",
                            "params": {"auth_token": "nope"}})  # fmt: skip
        assert (await ws.receive_json())["error"]["code"] == -32001


# --- 5. expires_at: RFC 3339, the session's real end --------------------------------------------


async def test_expires_at_is_an_rfc3339_time_a_day_ahead(view: View) -> None:
    async with old_client(view) as old:
        before = datetime.now(UTC)
        answer = await old.result("authenticate", {"auth_token": TOKEN})
        assert problems(answer, AUTHENTICATED) == [] and answer["expires_at"].endswith("Z")
        expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
        assert before + timedelta(hours=23) < expires < before + timedelta(hours=25)


async def test_expires_at_is_when_the_session_really_ends(tmp_path: Path) -> None:
    limits = Limits(ws=WsLimits(legacy_session=1.0, auth_timeout=5.0))
    async with serving(tmp_path, limits=limits) as v, old_client(v) as old:
        before = datetime.now(UTC)
        answer = await old.result("authenticate", {"auth_token": TOKEN})
        expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
        assert before + timedelta(seconds=0.5) < expires < before + timedelta(seconds=3)
        assert await old.result("get_streams")
        await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.3)
        late = await old.answer(await old.send("get_streams"))
        assert late["error"]["code"] == -32001  # it has ended: authenticate again
        assert (await old.result("authenticate", {"auth_token": TOKEN}))["authenticated"]
        assert await old.result("get_streams")


# --- 6. an unknown device is a DISCONNECTED camera on /ws ---------------------------------------


async def test_an_unknown_device_answers_a_disconnected_camera_on_ws(view: View) -> None:
    async with old_client(view) as old:
        await old.result("authenticate", {"auth_token": TOKEN})
        status = await old.result("get_camera_status", {"device": "/dev/video42"})
        assert problems(status, CAMERA_STATUS) == []
        assert (status["device"], status["status"], status["name"]) == (
            "/dev/video42", "DISCONNECTED", "Camera 42")  # fmt: skip
        caps = await old.result("get_camera_capabilities", {"device": "/dev/video42"})
        assert problems(caps, CAPABILITIES) == [] and caps["validation_status"] == "disconnected"
    for method in ("get_camera_status", "get_camera_capabilities"):  # /rpc: camctl's -1000
        assert (await view.call(method, {"device": "/dev/video42"}))["error"]["code"] == -1000


# --- 7. the fields the old clients read -----------------------------------------------------------


async def test_camera_objects_and_files_carry_every_field(view: View) -> None:
    async with old_client(view) as old:
        await old.result("authenticate", {"auth_token": TOKEN})
        listed = await old.result("get_camera_list")
        cams = {c["name"]: c for c in listed["cameras"]}
        front, garage = cams["front-door"], cams["garage"]
        newest = (await old.result("list_recordings", {"limit": 40}))["files"]
        front_newest = next(f for f in newest if f["filename"].startswith("cams/front-door/"))
        assert front["current_file"] == front_newest["filename"]  # being written now
        assert front["recording_session"].startswith("default/front-door@")
        assert isinstance(front["elapsed_time"], int) and front["elapsed_time"] >= 0
        for field in ("recording_session", "current_file", "elapsed_time"):
            assert garage[field] is None  # not being written: camctl cannot say
        assert front_newest["duration"] in (1, 2) and front_newest["created_time"].endswith("Z")
        older = newest[-1]
        info = await old.result("get_recording_info", {"filename": older["filename"]})
        assert info == older and info["duration"] in (60, 600)
        start = datetime.fromisoformat(info["created_time"].replace("Z", "+00:00"))
        assert start < datetime.fromisoformat(info["modified_time"].replace("Z", "+00:00"))


# --- 8. the calls that answered -32601 ----------------------------------------------------------


async def test_capabilities_for_viewers_and_the_admin_calls_by_role(view: View) -> None:
    async with old_client(view) as old:
        await old.result("authenticate", {"auth_token": TOKEN})
        caps = await old.result("get_camera_capabilities", {"device": "/dev/video0"})
        assert caps == {"device": "/dev/video0", "formats": ["MJPEG", "YUYV", "H264"],
                        "resolutions": ["1280x720"], "fps_options": [30],
                        "validation_status": "confirmed"}  # fmt: skip
        for method in ("get_metrics", "get_status", "get_server_info", "get_storage_info"):
            answer = await old.answer(await old.send(method))
            assert answer["error"]["code"] == -32003, answer  # known, but for admins
            assert answer["error"]["data"] == {"role": "viewer", "required": "admin"}
    async with old_client(view, ADMIN_TOKEN) as admin:  # a token whose line says admin
        told = await admin.result("authenticate", {"auth_token": ADMIN_TOKEN})
        assert (told["role"], told["permissions"]) == ("admin", ["view", "admin"])
        for method in ("get_metrics", "get_status", "get_server_info", "get_storage_info"):
            assert isinstance(await admin.result(method), dict), method
    async with old_client(view, ADMIN_TOKEN) as per_call:  # the token in the call itself
        assert "total_space" in await per_call.result(
            "get_storage_info", {"auth_token": ADMIN_TOKEN}
        )


# --- 9. the old HTTP paths ------------------------------------------------------------------------


async def test_health_paths_answer_the_old_shapes(view: View) -> None:
    shapes = {"/health/system": HEALTH_SYSTEM, "/health/cameras": HEALTH_PART,
              "/health/mediamtx": HEALTH_PART, "/health/ready": READY}  # fmt: skip
    for path, shape in shapes.items():
        async with view.http.get(view.url + path) as response:  # no token, as /healthz
            body = await response.json()
            assert (response.status, problems(body, shape)) == (200, []), (path, body)
    async with view.http.get(view.url + "/health/system") as response:
        body = await response.json()
    assert body["status"] == "healthy" and "1 disconnected" in body["components"][
        "camera_monitor"]["details"]  # fmt: skip


async def test_health_paths_when_mediamtx_is_down(tmp_path: Path) -> None:
    async with serving(tmp_path) as v:
        await v.run.emulator.stop()
        await v.run.settle()
        expect = {
            "/health/system": (500, HEALTH_SYSTEM),
            "/health/mediamtx": (500, HEALTH_PART),
            "/health/cameras": (200, HEALTH_PART),
            "/health/ready": (503, NOT_READY),
        }
        for path, (status, shape) in expect.items():
            async with v.http.get(v.url + path) as response:
                body = await response.json()
                assert (response.status, problems(body, shape)) == (status, []), (path, body)
                if status == 500:
                    assert body["status"] == "unhealthy" and "mediamtx" in body["error"].lower()
        async with v.http.get(v.url + "/health/ready") as response:
            details = (await response.json())["details"]
        assert details == {"mediamtx": "unhealthy", "service_manager": "healthy"}


async def test_api_cameras_is_the_camera_list(view: View) -> None:
    async with view.http.get(view.url + "/api/cameras", headers=bearer()) as response:
        assert response.status == 200
        body = await response.json()
    listed = await view.result("get_camera_list")
    assert [c["name"] for c in body["cameras"]] == [c["name"] for c in listed["cameras"]]
    async with view.http.get(view.url + "/api/cameras") as response:
        assert response.status == 401 and "Bearer" in response.headers["WWW-Authenticate"]


async def test_files_download_what_list_recordings_named(view: View) -> None:
    async with old_client(view) as old:
        files = (await old.result("list_recordings", {"limit": 1000}, per_call=True))["files"]
    garage = next(f for f in files if f["filename"].startswith("cams/garage/"))
    front = next(f for f in files if f["filename"].startswith("cams/front-door/"))
    expected = {
        garage["filename"]: view.docs.parent / "recordings" / garage["filename"],
        front["filename"]: front_root(view) / front["filename"],
    }
    for name, path in expected.items():
        for headers in (bearer(), {"X-API-Key": TOKEN}):
            async with view.http.get(f"{view.url}/files/recordings/{name}",
                                     headers=headers) as response:  # fmt: skip
                assert response.status == 200, await response.text()
                assert await response.read() == path.read_bytes()
                assert response.headers["Content-Disposition"].endswith(f'{path.name}"')
        async with view.http.get(f"{view.url}/files/recordings/{name}") as response:
            assert response.status == 401
    async with view.http.get(f"{view.url}/files/recordings/cams/garage/nope.ts",
                             headers=bearer()) as response:  # fmt: skip
        assert response.status == 404
    async with view.http.get(f"{view.url}/files/snapshots/a.jpg", headers=bearer()) as response:
        assert response.status == 404


@pytest.mark.parametrize("name", [*TRAVERSALS, "cams/../../tokens", "..%2F..%2Ftokens"])
async def test_files_never_leave_the_recordings(view: View, name: str) -> None:
    secret = (view.docs.parent / "tokens").read_bytes()
    url = f"{view.url}/files/recordings/{quote(name, safe='/%')}"
    async with view.http.get(url, headers=bearer()) as response:
        assert response.status in (400, 404), name
        assert secret not in await response.read()


async def test_a_symlink_out_of_the_root_is_not_served(tmp_path: Path) -> None:
    async with serving(tmp_path, **recorded_world(tmp_path)) as v:
        files = (await v.result("list_recordings", {"limit": 1000}))["files"]
        name = next(f["filename"] for f in files if f["filename"].startswith("cams/garage/"))
        target = tmp_path / "recordings" / name
        shutil.copy(tmp_path / "tokens", tmp_path / "outside")
        target.unlink()
        target.symlink_to(tmp_path / "outside")
        async with v.http.get(f"{v.url}/files/recordings/{name}", headers=bearer()) as response:
            assert response.status == 404
            assert TOKEN.encode() not in await response.read()


# --- 10. unknown and loosely typed parameters ---------------------------------------------------


async def test_extra_and_loose_params_are_tolerated_on_ws_only(view: View) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_camera_list", {"include_details": True}),
        ("get_camera_status", {"device": "/dev/video0", "include_metrics": True}),
        ("list_recordings", {"limit": "2", "offset": "1", "sort": "newest"}),
        ("get_streams", {"filter": None}),
        ("ping", {"client": "web"}),
    ]
    async with old_client(view) as old:
        await old.result("authenticate", {"auth_token": TOKEN, "client_version": "1.2"})
        for method, params in calls:
            await old.result(method, params)
        page = await old.result("list_recordings", {"limit": "2", "offset": "1"})
        assert (page["limit"], page["offset"], len(page["files"])) == (2, 1, 2)
    for method, params in calls:  # camctl's own endpoint stays strict
        assert (await view.call(method, params))["error"]["code"] == -32602, method


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


async def test_the_view_serves_the_old_paths_only_for_loopback_hosts_without_tokens(
    tmp_path: Path,
) -> None:
    docs, devices = world(tmp_path)
    async with (
        running(docs, devices, tmp_path / "state") as run,
        aiohttp.ClientSession() as http,
    ):
        await eventually(lambda: run.view.state.snapshot.ready)
        for path in ("/health/system", "/api/cameras", "/files/recordings/x.mp4"):
            headers = {"Host": "camctl.example"}
            async with http.get(run.url + path, headers=headers) as response:
                assert response.status == 403, path
