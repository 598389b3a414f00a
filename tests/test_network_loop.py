"""Network cameras through the running controller: a credentials file, the MediaMTX emulator
over HTTP (its registry of reachable cameras), status from the path's runtime state.

Each test runs `Controller.run` with a file source of one network Camera and its Stream, the
credentials under a root of its own. Passes are triggered by the test (no MediaMTX polling,
a resync longer than any test), so what a pass writes can be told apart.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openapi_contract import assert_requests_match_spec

from controller import wiring
from controller.api.kinds import Ref
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.loop import Controller, Timing
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

TIMING = Timing(resync=60, poll=60, drift=60, backoff_min=0.05, backoff_max=0.5, settle=0.2)
CAMERA = "192.0.2.10:554"
PASSWORD = "first-Pa55"
DOCUMENTS = """\
apiVersion: camctl.dev/v1alpha1
kind: Camera
metadata: {name: gate}
spec:
  url: rtsp://192.0.2.10:554/h264/ch1/main
  credentials: {file: gate.yaml}
  transport: tcp
---
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {name: gate}
spec:
  camera: gate
  path: cams/gate
  mode: always
"""
GATE, GATE_STREAM = Ref("Camera", "default", "gate"), Ref("Stream", "default", "gate")
_unique = itertools.count()


@dataclass
class Harness:
    emu: MediaMTXEmulator
    controller: Controller
    docs: Path
    credentials: Path
    state: Path

    def ready(self, key: Ref) -> tuple[str, str]:
        status = self.controller.statuses[key]
        found = next(c for c in status.conditions if c.type == "Ready")
        return found.status, found.reason

    def writes(self, since: int) -> list[tuple[str, str, Any]]:
        return [r for r in self.emu.requests[since:] if r[0] != "GET"]

    async def passes(self) -> None:
        """One whole pass that starts after now."""
        reason = f"test {next(_unique)}"
        self.controller.trigger(reason)
        for _ in range(1000):
            if reason in self.controller.health.last_reasons:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("no pass within 10 s")

    def rotate(self, password: str) -> None:
        """As a Kubernetes Secret volume or systemd rotates it: a new file swapped in."""
        swap = self.credentials / ".gate.yaml.new"
        swap.write_text(f"username: admin\npassword: {password}\n")
        os.replace(swap, self.credentials / "gate.yaml")


@asynccontextmanager
async def running(tmp_path: Path, documents: str = DOCUMENTS) -> AsyncIterator[Harness]:
    docs, credentials, state = tmp_path / "docs", tmp_path / "credentials", tmp_path / "state"
    docs.mkdir()
    credentials.mkdir()
    (docs / "gate.yaml").write_text(documents)
    devices = tmp_path / "devices.yaml"
    devices.write_text("devices: []\n")
    emu = MediaMTXEmulator(cameras={CAMERA: ("admin", PASSWORD)})
    url = await emu.start()
    stop = asyncio.Event()
    settings = Settings(node_name="edge-01", credentials_roots=(str(credentials),))
    try:
        async with MediaMTXClient(url) as client:
            parts = wiring.Parts(
                wiring.files([docs]), wiring.devices(devices), state, settings, TIMING
            )
            controller = wiring.controller(parts, client)
            h = Harness(emu, controller, docs, credentials, state)
            h.rotate(PASSWORD)
            task = asyncio.create_task(controller.run(stop))
            try:
                await h.passes()
                yield h
            finally:
                stop.set()
                await asyncio.wait_for(task, 5)
    finally:
        await emu.stop()


async def test_a_network_camera_converges_connects_and_stays_converged(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        assert h.emu.stored("cams/gate") == {
            "source": f"rtsp://admin:{PASSWORD}@192.0.2.10:554/h264/ch1/main",
            "sourceOnDemand": False,
            "rtspTransport": "tcp",
            "runOnInit": "",
            "runOnInitRestart": False,
            "runOnDemand": "",
            "runOnDemandRestart": False,
            "record": False,
        }
        await h.passes()  # reads the runtime state of the new path
        assert h.ready(GATE) == ("True", "Connected")
        assert h.ready(GATE_STREAM) == ("True", "PathConfigured")
        status = json.loads((h.state / "status/Camera/default/gate.json").read_text())["status"]
        assert status["source"]["connected"] is True and status["source"]["since"]
        assert status["source"]["url"] == "rtsp://192.0.2.10:554/h264/ch1/main"

        mark = len(h.emu.requests)
        for _ in range(3):  # MediaMTX returns the source with its credentials: equal, no patch
            await h.passes()
        assert h.writes(mark) == []
        assert_requests_match_spec(h.emu.requests)


async def test_a_rotated_password_converges_the_path(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.passes()
        h.emu.cameras[CAMERA] = ("admin", "second-Pa55")  # the camera's password changed
        await h.passes()
        assert h.ready(GATE) == ("False", "Unreachable")
        mark = len(h.emu.requests)
        h.rotate("second-Pa55")
        await h.passes()
        assert h.writes(mark) == [
            (
                "PATCH",
                "/v3/config/paths/patch/cams/gate",
                {"source": "rtsp://admin:second-Pa55@192.0.2.10:554/h264/ch1/main"},
            )
        ]
        await h.passes()
        assert h.ready(GATE) == ("True", "Connected")


async def test_credentials_that_cannot_be_read_keep_the_path(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        before = h.emu.stored("cams/gate")
        (h.credentials / "gate.yaml").unlink()
        mark = len(h.emu.requests)
        for _ in range(3):  # settled documents: nothing holds a removal back but the rule
            await asyncio.sleep(0.1)
            await h.passes()
        assert h.writes(mark) == [] and h.emu.stored("cams/gate") == before
        assert h.ready(GATE) == ("False", "CredentialsUnavailable")
        assert h.ready(GATE_STREAM) == ("False", "CameraNotReady")
        h.rotate(PASSWORD)
        await h.passes()
        await h.passes()
        assert h.ready(GATE) == ("True", "Connected") and h.writes(mark) == []


async def test_a_stream_moves_between_passthrough_and_transcoding(tmp_path: Path) -> None:
    on_demand = DOCUMENTS.replace("mode: always", "mode: onDemand")
    async with running(tmp_path, on_demand) as h:
        assert h.emu.stored("cams/gate")["sourceOnDemand"] is True
        await h.passes()
        assert h.ready(GATE) == ("Unknown", "OnDemand")
        transcoded = DOCUMENTS + "  video: {width: 640, height: 360, fps: 10, bitrate: 500k}\n"
        (h.docs / "gate.yaml").write_text(transcoded)
        await h.passes()
        stored = h.emu.stored("cams/gate")
        assert stored["source"] == "publisher" and stored["sourceOnDemand"] is False
        assert f"-i rtsp://admin:{PASSWORD}@192.0.2.10:554/h264/ch1/main" in stored["runOnInit"]
        await h.passes()
        assert h.ready(GATE) == ("True", "Connected")  # its ffmpeg reaches the camera
        h.emu.cameras.pop(CAMERA)
        await h.passes()
        assert h.ready(GATE) == ("False", "Unreachable")
        assert h.controller.health.errors == []
