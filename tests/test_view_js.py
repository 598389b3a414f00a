"""The JavaScript client under `node --test` (tests/js/) against a live view, with real
recorded segments (tests/test_view_recordings.py's world)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from test_view import TOKEN, serving
from test_view_recordings import recorded_world

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


async def test_javascript_client_under_node(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed for tests/js (Debian: nodejs)"
    async with serving(tmp_path, **recorded_world(tmp_path)) as view:
        env = {**os.environ, "VIEW_URL": view.url, "VIEW_TOKEN": TOKEN, "VIEW_DOCS": str(view.docs)}
        env.pop("LD_PRELOAD", None)  # umockdev's preload is for udev, not for node
        process = await asyncio.create_subprocess_exec(
            node, "--experimental-websocket", "--test", str(ROOT / "tests" / "js"),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 0, output
    assert "# fail 0" in output and "# pass 8" in output, output
