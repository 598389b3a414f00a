"""Unplug and replug as the old service's web client sees them on /ws: udev under umockdev,
the controller and its view running, the client keyed on `device` as that client is.

Run under the umockdev preload: `umockdev-wrapper python -m pytest tests/…`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from legacy_api import CAMERA_UPDATE, problems
from legacy_client import OldClient
from test_hotplug import DOOR, Cam, Mark, plug, unplug
from test_hotplug import running as controller_on_udev
from test_view import TOKEN

from controller.view.server import View

pytestmark = [pytest.mark.anyio, pytest.mark.umockdev]


@asynccontextmanager
async def old_client_of(run: Any, tmp_path: Path) -> AsyncIterator[OldClient]:
    """The view of the running controller, and an old client on its /ws, authenticated."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    tokens.chmod(0o600)
    view = View(run.view, None, tokens)
    url = await view.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/ws") as ws:
            old = OldClient(ws, TOKEN)
            assert (await old.result("authenticate", {"auth_token": TOKEN}))["authenticated"]
            yield old
    finally:
        await view.stop()


def door_in(listed: dict[str, Any]) -> tuple[str, str]:
    door = next(c for c in listed["cameras"] if c["name"] == "door")
    return door["device"], door["status"]


async def test_unplug_and_replug_keep_the_old_clients_view(testbed: Any, tmp_path: Path) -> None:
    first, again = Cam(DOOR, port=1, minor=0), Cam(DOOR, port=2, minor=2)
    await plug(testbed, first)
    async with (
        controller_on_udev(tmp_path) as run,
        old_client_of(run, tmp_path) as old,
    ):
        await run.settled(Mark(0, 0), run.converged({"door"}), "door at start", False)
        assert door_in(await old.result("get_camera_list")) == ("/dev/video0", "CONNECTED")

        await unplug(testbed, first)
        gone = await old.notification("camera_status_update", lambda p: p["name"] == "door")
        assert problems(gone, CAMERA_UPDATE) == []
        assert (gone["device"], gone["status"]) == ("/dev/video0", "DISCONNECTED")
        assert door_in(await old.result("get_camera_list")) == ("/dev/video0", "DISCONNECTED")
        status = await old.result("get_camera_status", {"device": "/dev/video0"})
        assert (status["name"], status["status"]) == ("door", "DISCONNECTED")

        await plug(testbed, again)
        back = await old.notification(
            "camera_status_update", lambda p: p["name"] == "door" and p["status"] == "CONNECTED"
        )
        assert back["device"] == "/dev/video2"
        assert door_in(await old.result("get_camera_list")) == ("/dev/video2", "CONNECTED")
        status = await old.result("get_camera_status", {"device": "/dev/video2"})
        assert (status["name"], status["status"]) == ("door", "CONNECTED")
