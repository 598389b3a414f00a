"""A network camera's password, sent through every output camctl has, is never shown.

One known password (in a credentials file, as a person would keep it) goes into MediaMTX's
configuration, where it must be. Everything else is gathered and searched for it, raw and
percent-encoded: `plan`/`apply`/`status` text and JSON, the logs (text and JSON lines), the
status files and the state directory, every method of the view and its WebSockets, the old
service's API, /metrics, the dashboard in a real browser, and the error messages of a write
MediaMTX refuses while quoting the source back. Kubernetes statuses and Events: the same
search in tests/test_kubernetes_secrets.py.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from test_view import TOKEN, View, serving

from controller.api.settings import Settings
from controller.cli import main
from controller.logs import JSONFormatter, TextFormatter
from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread
from controller.view.server import served_methods

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Zq7-s3cr3t:p@ss/word"
FORMS = (PASSWORD, quote(PASSWORD, safe=""), "s3cr3t")  # raw, as in URLs, and a piece of it
CAMERA_ADDRESS = "192.0.2.10:554"
GATE = """\
apiVersion: camctl.dev/v1alpha1
kind: Camera
metadata: {name: gate}
spec:
  url: rtsp://192.0.2.10:554/h264/ch1/main
  credentials: {file: gate.yaml}
---
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {name: gate}
spec: {camera: gate, path: cams/gate, mode: always}
---
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {name: gate-small}
spec:
  camera: gate
  path: cams/gate-small
  video: {width: 640, height: 360, fps: 10, bitrate: 500k}
---
apiVersion: camctl.dev/v1alpha1
kind: Recording
metadata: {name: gate}
spec: {stream: gate, retention: 2d, segmentDuration: 1h}
"""


def network_world(docs: Path, credentials: Path) -> None:
    (docs / "gate.yaml").write_text(GATE)
    credentials.mkdir(exist_ok=True)
    (credentials / "gate.yaml").write_text(f"username: admin\npassword: '{PASSWORD}'\n")


def leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


def the_source(emulator: MediaMTXEmulator) -> str:
    source: str = emulator.stored("cams/gate")["source"]
    assert quote(PASSWORD, safe="") in source  # where it must be: MediaMTX's configuration
    return source


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as both of camctl's log formats write it."""
    text, lines = TextFormatter(), JSONFormatter()
    return "\n".join(f"{text.format(r)}\n{lines.format(r)}" for r in caplog.records)


# --- the command line ----------------------------------------------------------------------


def test_plan_apply_and_status_never_show_it(
    tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    docs, credentials, state = tmp_path / "docs", tmp_path / "credentials", tmp_path / "state"
    docs.mkdir()
    network_world(docs, credentials)
    emulator = MediaMTXEmulator(cameras={CAMERA_ADDRESS: ("admin", PASSWORD)})
    devices = ROOT / "examples" / "devices.yaml"
    outputs: list[str] = []
    with run_in_thread(emulator) as url:
        common = [str(docs), "--mediamtx", url, "--state-dir", str(state)]
        common += ["--credentials-root", str(credentials), "--simulate-devices", str(devices)]
        common += ["--recordings-root", str(tmp_path / "recordings")]
        runner = CliRunner()

        def run(*args: str) -> str:
            result = runner.invoke(main, list(args), catch_exceptions=False)
            outputs.append(result.output)
            return result.output

        # MediaMTX refuses the first write, quoting the source with its password back.
        source = "rtsp://admin:" + quote(PASSWORD, safe="") + "@192.0.2.10:554/h264/ch1/main"
        emulator.fail_next(400, error=f"invalid source: '{source}'", method="POST")
        for output in ("text", "json"):
            run("plan", *common, "-o", output)
        failed = run("apply", *common)
        assert "invalid source: 'rtsp://<redacted>@192.0.2.10" in failed
        for output in ("text", "json"):
            run("apply", *common, "-o", output)
            run("plan", *common, "-o", output)
        assert the_source(emulator) == source
        for output in ("text", "wide", "json", "yaml"):
            run("status", "--state-dir", str(state), "-o", output)
        run("validate", str(docs))
    state_files = [p.read_text() for p in state.rglob("*") if p.is_file()]
    searched = "\n".join([*outputs, *state_files, logged(logs)])
    assert "cams/gate-small" in searched and "Camera/gate" in searched  # the world was there
    assert "rtsp://<redacted>@192.0.2.10" in searched  # sources were shown, hidden
    assert leaks(searched) == []


# --- the running controller, its view, the old service's API, the dashboard ---------------

SAMPLES = {
    "cameras.get": {"name": "gate"},
    "streams.get": {"name": "gate-small"},
    "recordings.get": {"name": "gate"},
    "recordings.segments": {"name": "gate"},
    "get_camera_status": {"device": "rtsp://192.0.2.10:554/h264/ch1/main"},
    "get_camera_capabilities": {"device": "rtsp://192.0.2.10:554/h264/ch1/main"},
    "get_recording_info": {"filename": "x.mp4"},
    "get_snapshot_info": {"filename": "x.jpg"},
    "events.unsubscribe": {"subscription": "nope"},
    "authenticate": {"auth_token": TOKEN},
}


@pytest.mark.anyio
async def test_the_running_controller_and_its_view_never_show_it(
    tmp_path: Path, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LD_PRELOAD", raising=False)  # for Chromium (see test_view_dashboard)
    credentials = tmp_path / "credentials"
    settings = Settings(
        node_name="edge-01",
        credentials_roots=(str(credentials),),
        recordings_roots=(str(tmp_path / "recordings"),),
    )

    def prepare(docs: Path) -> None:
        network_world(docs, credentials)

    async with serving(tmp_path, prepare, settings=settings) as view:
        run = view.run
        run.emulator.cameras[CAMERA_ADDRESS] = ("admin", PASSWORD)
        source = the_source(run.emulator)
        # A rotation MediaMTX refuses, quoting the new source back: an error everywhere.
        refused = f"invalid source: '{source}'"
        run.emulator.fail_next(400, times=2, error=refused, method="PATCH")
        (credentials / "gate.yaml").write_text(f"username: admin\npassword: '{PASSWORD}!'\n")
        await run.settle()
        assert any("invalid source" in e for e in run.controller.health.errors)
        await run.settle()
        await run.settle()  # and it recovers
        assert the_source(run.emulator).endswith("%21@192.0.2.10:554/h264/ch1/main")
        await run.settle()
        gate = await view.result("cameras.get", {"name": "gate"})
        assert gate["status"]["source"]["connected"] is False  # the camera wants the old one

        shown: list[str] = []
        async with await view.ws("/rpc/ws") as ws, await view.ws("/ws") as legacy:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"})
            shown.append(await ws.receive_str())
            for method in served_methods():
                params = SAMPLES.get(method.name, {})
                shown.append(json.dumps(await view.call(method.name, params)))
            (credentials / "gate.yaml").write_text(f"username: admin\npassword: '{PASSWORD}'\n")
            await run.settle()
            await run.settle()
            for socket in (ws, legacy):
                while True:  # what the sockets were told meanwhile
                    try:
                        shown.append(await socket.receive_str(timeout=0.5))
                    except TimeoutError:
                        break
        async with view.http.get(f"{view.url}/metrics") as response:
            shown.append(await response.text())
        shown.append(await dashboard_text(view))
        state = tmp_path / "state"
        shown += [p.read_text() for p in state.rglob("*") if p.is_file()]

    searched = "\n".join([*shown, logged(logs)])
    assert "cams/gate-small" in searched and "192.0.2.10" in searched  # the world was there
    assert "camera_status_update" in searched  # the old service's notifications were heard
    assert "rtsp://<redacted>@192.0.2.10" in searched  # sources were shown, hidden
    assert leaks(searched) == []


async def dashboard_text(view: View) -> str:
    """Everything the dashboard shows of the resources, in Debian's Chromium."""
    from playwright.async_api import async_playwright, expect
    from test_view_dashboard import ARGS, CHROMIUM

    assert shutil.which(CHROMIUM), "Debian's chromium is needed (.ci/system-deps installs it)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{view.url}/#token={TOKEN}", wait_until="domcontentloaded")
            gate = page.locator('[data-kind="Camera"][data-name="gate"]')
            await expect(gate).to_contain_text("192.0.2.10")
            content: str = await page.content()
            return content + await page.inner_text("body")
        finally:
            await browser.close()
