"""Every answer of the old service's calls on /ws, its notifications and its health paths,
checked against the old API's field names and types (legacy_api.py): one test per call, so
a field that changes type (fps as "30", a size as 1.0, expires_at as null) fails its test.

The view runs without a token file here, so it answers the admin calls too; real segments
are on disk and front-door's is being written, so the fields that are only known while
recording are filled in (garage's stay null: both are checked).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from legacy_api import (
    ADMIN_ONLY,
    AUTHENTICATED,
    CAMERA_LIST,
    CAMERA_STATUS,
    CAMERA_UPDATE,
    CAPABILITIES,
    FILE,
    FILE_LIST,
    METRICS,
    RECORDING_UPDATE,
    SERVER_INFO,
    STATE_CHANGING,
    STATUS,
    STORAGE,
    STREAMS,
    VIEWER_CALLS,
    Absent,
    Enum,
    Opt,
    problems,
)
from legacy_client import OldClient
from test_view import world
from test_view_recordings import recorded_world

from controller.testing.harness import Running, eventually, running
from controller.view import compat

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Open:
    run: Running
    http: aiohttp.ClientSession


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Open]:
    base = tmp_path_factory.mktemp("types")
    docs, devices = world(base)
    options = recorded_world(base)
    options.pop("prepare")(docs)
    async with (
        running(docs, devices, base / "state", **options) as run,
        aiohttp.ClientSession() as http,
    ):
        await eventually(lambda: bool(run.controller.health.last_success))
        run.emulator.record("cams/front-door", datetime.now(UTC) - timedelta(seconds=2), 2.0)
        await run.settle()
        yield Open(run, http)


async def answer_of(view: Open, method: str, params: dict[str, Any]) -> Any:
    async with view.http.ws_connect(f"{view.run.url}/ws") as ws:
        old = OldClient(ws)
        if method == "get_recording_info":
            params = {"filename": (await old.result("list_recordings"))["files"][-1]["filename"]}
        return await old.result(method, params)


CALLS: dict[str, tuple[dict[str, Any], Any]] = {
    "authenticate": ({"auth_token": "any: no token file"}, AUTHENTICATED),
    "ping": ({}, Enum("pong")),
    "get_camera_list": ({}, CAMERA_LIST),
    "get_camera_status": ({"device": "/dev/video0"}, CAMERA_STATUS),
    "get_camera_capabilities": ({"device": "/dev/video0"}, CAPABILITIES),
    "get_streams": ({}, STREAMS),
    "list_recordings": ({}, FILE_LIST),
    "get_recording_info": ({}, FILE),
    "list_snapshots": ({}, FILE_LIST),
    "get_metrics": ({}, METRICS),
    "get_status": ({}, STATUS),
    "get_server_info": ({}, SERVER_INFO),
    "get_storage_info": ({}, STORAGE),
}


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_each_answer_has_the_old_types(view: Open, method: str) -> None:
    params, spec = CALLS[method]
    result = await answer_of(view, method, params)
    assert problems(result, spec) == [], result


async def test_lists_are_not_empty_so_their_items_were_checked(view: Open) -> None:
    cameras = (await answer_of(view, "get_camera_list", {}))["cameras"]
    recording = {c["name"]: c["current_file"] for c in cameras}
    assert recording["front-door"] is not None and recording["garage"] is None
    assert (await answer_of(view, "list_recordings", {}))["files"]
    assert await answer_of(view, "get_streams", {})
    storage = await answer_of(view, "get_storage_info", {})
    assert storage["total_space"] and storage["recordings_size"] > 0


def test_every_old_call_is_served_and_checked() -> None:
    served = {m.name for m in compat.methods()}
    assert served == VIEWER_CALLS | ADMIN_ONLY | STATE_CHANGING | {"authenticate"}
    assert set(CALLS) == served - STATE_CHANGING - {"get_snapshot_info"}  # that one: -1005


async def test_notifications_have_the_old_types(tmp_path: Path) -> None:
    docs, devices = world(tmp_path)
    options = recorded_world(tmp_path)
    options.pop("prepare")(docs)
    async with (
        running(docs, devices, tmp_path / "state", **options) as run,
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{run.url}/ws") as ws,
    ):
        old = OldClient(ws)
        await old.result("ping")
        run.emulator.record("cams/front-door", datetime.now(UTC) - timedelta(seconds=1), 1.0)
        run.controller.trigger("test: MediaMTX writes")
        started = await old.notification("recording_status_update")
        assert problems(started, RECORDING_UPDATE) == [] and started["status"] == "STARTED"
        devices.write_text(devices.read_text().replace("/dev/video2", "/dev/video6"))
        moved = await old.notification("camera_status_update", lambda p: p["name"] == "garage")
        assert problems(moved, CAMERA_UPDATE) == [] and moved["device"] == "/dev/video6"


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ({"fps": "30"}, {"fps": int}),
        ({"fps": True}, {"fps": int}),
        ({"size": 1.5}, {"size": int}),
        ({"at": None}, {"at": str}),
        ({"at": "yesterday"}, {"at": CAMERA_STATUS["metrics"]["uptime"]}),
        ({"x": 1, "y": 2}, {"x": int}),
        ({}, {"x": int}),
        ({"x": [1, "2"]}, {"x": [int]}),
        ({"x": "A"}, {"x": Enum("B")}),
        ({"x": 1}, {"x": Opt(str)}),
        ({"x": 1}, {"x": Absent(str)}),
        ({"expires_at": "2026-01-01 10:00"}, {"expires_at": AUTHENTICATED["expires_at"]}),
    ],
)
def test_the_checker_notices_a_changed_type(value: Any, spec: Any) -> None:
    assert problems(value, spec)
