"""The final system validation: one running camctl, exercised through every client it ships.

One MediaMTX emulator (`camctl demo --emulator-only`, its own process, recording as MediaMTX
would) and one `camctl run` (a real process: the example cameras simulated, a network
camera whose password is planted, real recorded segments, the view on a free port with a
token file holding a viewer's token and an admin's) serve the whole module. Each test is
one client, used as its users use it: the command line (`camctl status --server`, `get`,
`recordings`), the Python client, the JavaScript client under `node --test`, the dashboard
in Debian's Chromium, and the old camera service's calls (its /ws, health, camera list and
downloads); then file management (listing, download links, traversal refused) and
authentication (no token, a wrong one, a viewer, an admin) across every route. The last
test stops camctl and searches everything the clients were shown, camctl's own log and its
state directory for the password and the tokens.

`make orr` runs this module within the whole suite, with CAMCTL_E2E_EVIDENCE naming a folder
for the logs and outputs (build/orr/evidence/e2e/, scanned again for the planted password)
and CAMCTL_E2E_SECRET the password to plant; without them both stay in pytest's tmp_path,
and the password is made up for the run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from legacy_client import OldClient
from test_first_hour import free_port, user_env, wait_ready
from test_view_dashboard import ARGS, CHROMIUM

from controller.testing.recordings import write_segments
from controller.view.client import RPCError, ViewClient
from controller.view.errors import UNAUTHORIZED

ROOT = Path(__file__).resolve().parents[2]
JS_TEST = Path(__file__).with_name("system.test.mjs")
WAIT = 30.0  # an upper bound for a loaded machine, not a latency target
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
FRONT, GARAGE = 4, 3  # segments on disk before camctl starts
STREAMS = ["front-door", "garage", "gate", "workshop"]
TRAVERSALS = ["../tokens", "..%2F..%2Ftokens", "cams/../../tokens", "%2Fetc%2Fpasswd"]


@dataclass
class System:
    url: str  # the view
    mediamtx: str  # the emulator's Control API
    playback: str
    viewer: str = field(repr=False)  # kept out of pytest's report of a failure
    admin: str = field(repr=False)
    secret: str = field(repr=False)
    base: Path
    evidence: Path
    camctl: subprocess.Popen[bytes]
    shown: list[str] = field(default_factory=list, repr=False)  # all a client was shown

    @property
    def log(self) -> Path:
        return self.evidence / "camctl.log"

    def keep(self, name: str, text: str) -> str:
        """Remember what a client was shown, and keep it as evidence."""
        self.shown.append(text)
        (self.evidence / name).write_text(text)
        return text

    def token_file(self, token: str) -> Path:
        path = self.base / f"token-{secrets.token_hex(4)}"
        path.write_text(token + "\n")
        path.chmod(0o600)
        return path


def forms(text: str) -> list[str]:
    """The ways a secret may show: raw, and percent-encoded as in a URL."""
    return [text, quote(text, safe="")]


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answering(url: str) -> bool:
    try:
        return http_get(url)[0] == 200
    except OSError:  # not listening yet
        return False


def wait_until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (found := check()):
        assert time.monotonic() < deadline, f"not within {WAIT:.0f} s: {what}"
        time.sleep(0.2)
    return found


def the_world(base: Path, secret: str) -> tuple[Path, Path, Path]:
    """The examples and a network camera with the planted password: (docs, credentials,
    recordings root with real segments)."""
    docs = Path(shutil.copytree(ROOT / "examples" / "gitops", base / "docs"))
    shutil.copy(ROOT / "examples" / "network" / "gate.yaml", docs / "gate.yaml")
    credentials = base / "credentials"
    credentials.mkdir()
    (credentials / "gate.yaml").write_text(f"username: viewer\npassword: '{secret}'\n")
    (credentials / "gate.yaml").chmod(0o600)
    recordings = base / "recordings"
    write_segments(recordings, "cams/front-door", "fmp4", [T0 + timedelta(minutes=m)
                   for m in range(FRONT)], 60)  # fmt: skip
    write_segments(recordings, "cams/garage", "mpegts", [T0 + timedelta(minutes=10 * m)
                   for m in range(GARAGE)], 600)  # fmt: skip
    return docs, credentials, recordings


def started(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "controller", *args],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def stopped(process: subprocess.Popen[bytes], sig: signal.Signals) -> int | None:
    """Stop a process this module started; its exit code (None if it had to be killed)."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(sig)
    try:
        return process.wait(WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    base = tmp_path_factory.mktemp("system")
    evidence = Path(os.environ.get("CAMCTL_E2E_EVIDENCE") or base / "evidence")
    evidence.mkdir(parents=True, exist_ok=True)
    secret = os.environ.get("CAMCTL_E2E_SECRET") or f"e2e:{secrets.token_urlsafe(12)}/@"
    docs, credentials, recordings = the_world(base, secret)
    viewer, admin = f"viewer-{secrets.token_hex(12)}", f"admin-{secrets.token_hex(12)}"
    tokens = base / "tokens"
    tokens.write_text(f"# the view's tokens\n{viewer}\n{admin} admin\n")
    tokens.chmod(0o600)
    api, playback, view = free_port(), free_port(), free_port()
    env = {k: v for k, v in user_env().items() if not k.startswith("CAMCTL_")}
    emulator = started(
        ["demo", "--emulator-only", "--port", str(api), "--playback-port", str(playback)],
        base / "emulator.log",  # MediaMTX's side: it holds the password, as it must
        env,
    )
    mediamtx = f"http://127.0.0.1:{api}"
    camctl: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: answering(f"{mediamtx}/v3/info"), "the emulator answers")
        camctl = started(
            [
                *("run", str(docs), "--mediamtx", mediamtx, "--state-dir", str(base / "state")),
                *("--simulate-devices", str(ROOT / "examples" / "devices.yaml")),
                *("--view", f"127.0.0.1:{view}", "--view-token-file", str(tokens)),
                *("--recordings-root", str(recordings), "--credentials-root", str(credentials)),
                *("--playback-port", str(playback), "--resync", "2", "--log-format", "json"),
            ],
            evidence / "camctl.log",
            env,
        )
        url = f"http://127.0.0.1:{view}"
        wait_ready(url, WAIT)
        system = System(url, mediamtx, f"http://127.0.0.1:{playback}", viewer, admin, secret,
                        base, evidence, camctl)  # fmt: skip
        with ViewClient(url, viewer) as client:  # the first pass has scanned the segments
            wait_until(lambda: client.segments("front-door").total >= FRONT, "segments listed")
        yield system
    finally:
        if camctl is not None:
            stopped(camctl, signal.SIGTERM)
        stopped(emulator, signal.SIGINT)


def cli(system: System, *args: str, token: str | None = None) -> tuple[int, str]:
    """A `camctl` command against the running view, as a person types it."""
    command = [*args, "--server", system.url]
    if token is not None:
        command += ["--token-file", str(system.token_file(token))]
    env = {k: v for k, v in user_env().items() if not k.startswith("CAMCTL_")}
    done = subprocess.run(
        [sys.executable, "-m", "controller", *command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip
    output = done.stdout + done.stderr
    system.keep(f"cli-{len(system.shown)}-{args[0]}.txt", f"$ camctl {' '.join(args)}\n{output}")
    return done.returncode, output


# --- the clients ------------------------------------------------------------------------


def test_the_command_line(system: System) -> None:
    code, status = cli(system, "status", "-o", "json", token=system.viewer)
    assert code == 0, status
    resources = {f"{r['kind']}/{r['metadata']['name']}" for r in json.loads(status)["resources"]}
    assert {f"Stream/{name}" for name in STREAMS} <= resources

    code, listed = cli(system, "get", "streams", "-o", "json", token=system.viewer)
    assert code == 0, listed
    streams = json.loads(listed)
    assert sorted(s["metadata"]["name"] for s in streams) == STREAMS
    garage = next(s for s in streams if s["metadata"]["name"] == "garage")
    assert garage["status"]["urls"]["rtsp"].endswith("/cams/garage")

    code, table = cli(system, "get", "cameras", token=system.viewer)
    assert code == 0 and "front-door" in table and "gate" in table, table

    code, recorded = cli(system, "recordings", "front-door", "-o", "json", token=system.viewer)
    assert code == 0, recorded
    items = json.loads(recorded)["items"]
    assert len(items) >= FRONT
    assert all(i["url"].startswith(f"{system.playback}/get?path=cams%2Ffront-door") for i in items)

    code, missing = cli(system, "get", "streams")
    assert code == 1 and "wants a bearer token" in missing, missing
    code, refused = cli(system, "get", "streams", token="not-a-token")
    assert code == 1 and "refused the token given" in refused, refused


def test_the_python_client(system: System) -> None:
    with ViewClient(system.url, system.viewer) as view:
        assert sorted(s.metadata.name for s in view.streams()) == STREAMS
        assert [c.metadata.name for c in view.cameras(labelSelector="zone=garage")] == ["garage"]
        assert view.controller().mediamtx_reachable is True
        page = view.segments("front-door", limit=2)
        assert page.total >= FRONT and len(page.items) == 2
        assert page.items[0].start > page.items[1].start  # newest first
        gate = next(p for p in view.paths() if p.name == "cams/gate")
        assert gate.source == "rtsp://<redacted>@192.0.2.10:554/h264/ch1/main"
        system.keep("python-client.json", page.model_dump_json(indent=1) + gate.model_dump_json())
    for token in (None, "not-a-token"):
        with ViewClient(system.url, token) as stranger, pytest.raises(RPCError) as refused:
            stranger.streams()
        assert refused.value.code == UNAUTHORIZED


def test_the_javascript_client(system: System) -> None:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed (Debian: nodejs)"
    env = {k: v for k, v in user_env().items() if not k.startswith("CAMCTL_")}
    env |= {"VIEW_URL": system.url, "VIEW_TOKEN": system.viewer, "VIEW_ADMIN_TOKEN": system.admin}
    done = subprocess.run(
        [node, "--experimental-websocket", "--test", str(JS_TEST)],
        env=env, capture_output=True, text=True, timeout=2 * WAIT,
    )  # fmt: skip
    output = system.keep("javascript-client.tap", done.stdout + done.stderr)
    assert done.returncode == 0, output
    assert "# fail 0" in output and "# pass 5" in output, output


@pytest.mark.anyio
async def test_the_dashboard_in_chromium(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.async_api import async_playwright, expect

    monkeypatch.delenv("LD_PRELOAD", raising=False)  # umockdev's preload is not for Chromium
    assert shutil.which(CHROMIUM), "Debian's chromium is needed (.ci/system-deps installs it)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(system.url, wait_until="domcontentloaded")
            await expect(page.locator("#login")).to_be_visible()  # no token: it asks for one
            await page.fill("#token", system.viewer)
            await page.click("#login button[type=submit]")
            for name in STREAMS:
                card = page.locator(f'[data-kind="Stream"][data-name="{name}"]')
                await expect(card).to_be_visible()
            gate = page.locator('[data-kind="Camera"][data-name="gate"]')
            await expect(gate).to_contain_text("Unreachable")  # it wants another password
            await expect(gate).to_contain_text("rtsp://192.0.2.10:554/h264/ch1/main")
            front = page.locator('[data-kind="Recording"][data-name="front-door"]')
            await front.locator("button.browse").click()
            rows = page.locator("#segments-rows tr")
            await expect(rows.first).to_be_visible()
            assert await rows.count() >= FRONT
            link = await rows.first.locator("a").first.get_attribute("href")
            shown = await page.content() + await page.inner_text("body")
            system.keep("dashboard.html", shown)
        finally:
            await browser.close()
    assert errors == []
    assert link and link.startswith(f"{system.playback}/get?path=cams%2Ffront-door"), link
    status, body = http_get(link)  # the playback link plays: MediaMTX serves the segment
    assert status == 200 and len(body) > 0


@pytest.mark.anyio
async def test_the_old_camera_services_calls(system: System) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{system.url}/ws") as ws:
            old = OldClient(ws, system.viewer)
            refused = await old.result("authenticate", {"auth_token": "not-a-token"})
            assert refused["authenticated"] is False
            hello = await old.result("authenticate", {"auth_token": system.viewer})
            assert (hello["authenticated"], hello["role"]) == (True, "viewer")
            cameras = await old.result("get_camera_list")
            by_name = {c["name"]: c for c in cameras["cameras"]}
            assert by_name["front-door"]["status"] == "CONNECTED"
            assert by_name["gate"]["device"] == "rtsp://192.0.2.10:554/h264/ch1/main"
            files = await old.result("list_recordings", {"limit": 100})
            assert files["total"] >= FRONT + GARAGE
            one = files["files"][0]["filename"]
            info = await old.result("get_recording_info", {"filename": one}, per_call=True)
            assert info["download_url"].startswith(f"{system.playback}/get?")
            admin_only = await old.answer(await old.send("get_storage_info"))
            assert admin_only["error"]["code"] == -32003  # a viewer is not an admin
            system.keep("old-client.json", json.dumps([cameras, files, info], indent=1))
        async with http.ws_connect(f"{system.url}/ws") as ws:
            old = OldClient(ws, system.admin)
            hello = await old.result("authenticate", {"auth_token": system.admin})
            assert hello["role"] == "admin"
            storage = await old.result("get_storage_info")
            assert storage["recordings_size"] > 0
            state = await old.result("get_status")
            assert state["status"] in ("healthy", "degraded")
        async with http.get(f"{system.url}/health/ready") as response:  # monitoring: no token
            assert response.status == 200
        async with http.get(f"{system.url}/api/cameras", headers={"X-API-Key": system.viewer}) as r:
            assert r.status == 200 and (await r.json())["total"] == len(by_name)


# --- file management ----------------------------------------------------------------------


def test_recordings_are_listed_downloaded_and_never_left(system: System) -> None:
    bearer = {"Authorization": f"Bearer {system.viewer}"}
    with ViewClient(system.url, system.viewer) as view:
        segments = view.segments("front-door", limit=1000).items
    root = system.base / "recordings"
    listed = {s.file for s in segments if s.file}
    assert all((root / name).is_file() for name in listed)  # what the scan found on disk
    written = {str(p.relative_to(root)) for p in (root / "cams" / "front-door").glob("2026-11-28*")}
    assert len(written) == FRONT and written <= listed  # the emulator records more meanwhile
    oldest = next(s for s in segments if s.start == T0)
    assert oldest.file
    status, body = http_get(f"{system.url}/files/recordings/{oldest.file}", bearer)
    assert status == 200
    assert body == (system.base / "recordings" / oldest.file).read_bytes()
    assert http_get(f"{system.url}/files/recordings/{oldest.file}")[0] == 401
    status, played = http_get(str(oldest.url))  # its playback link, MediaMTX's
    assert status == 200 and played == body
    tokens = (system.base / "tokens").read_bytes()
    for name in TRAVERSALS:
        status, answer = http_get(f"{system.url}/files/recordings/{name}", bearer)
        assert status in (400, 404), (name, status)
        assert tokens not in answer
    with ViewClient(system.url, system.viewer) as view, pytest.raises(RPCError) as refused:
        view.call("get_recording_info", {"filename": "../tokens"})
    assert refused.value.code == -32602


# --- authentication -----------------------------------------------------------------------


def rpc(system: System, method: str, token: str | None) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{system.url}/rpc", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_who_may_do_what(system: System) -> None:
    for token in (None, "", "not-a-token", system.viewer + "x"):
        status, answer = rpc(system, "streams.list", token)
        assert (status, answer["error"]["code"]) == (401, UNAUTHORIZED), token
        assert http_get(f"{system.url}/metrics", {"Authorization": f"Bearer {token}"})[0] == 401
    for token in (system.viewer, system.admin):
        status, answer = rpc(system, "streams.list", token)
        assert status == 200 and answer["result"]["total"] == len(STREAMS)
        assert http_get(f"{system.url}/metrics", {"Authorization": f"Bearer {token}"})[0] == 200
    assert rpc(system, "get_server_info", system.viewer)[1]["error"]["code"] == -32003
    assert rpc(system, "get_server_info", system.admin)[1]["result"]["name"] == "camctl"
    # Read-only for everyone: the old service's state-changing calls are refused to an admin.
    assert rpc(system, "start_recording", system.admin)[1]["error"]["code"] == -32003
    for open_route in ("/healthz", "/readyz", "/health/ready", "/"):
        assert http_get(f"{system.url}{open_route}")[0] == 200, open_route


# --- last: nothing shows a secret ---------------------------------------------------------


def test_nothing_shows_the_password_or_a_token(system: System) -> None:
    status, stored = http_get(f"{system.mediamtx}/v3/config/paths/get/cams/gate")
    assert status == 200
    assert quote(system.secret, safe="") in json.loads(stored)["source"]  # where it must be

    assert stopped(system.camctl, signal.SIGTERM) == 0  # the log is complete
    log = system.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any("view at" in entry.get("message", "") for entry in lines)  # it logged
    assert "Traceback" not in log
    state = [p.read_text(errors="replace") for p in (system.base / "state").rglob("*")
             if p.is_file()]  # fmt: skip
    searched = "\n".join([*system.shown, log, *state])
    assert "rtsp://<redacted>@192.0.2.10" in searched  # the source was shown, hidden
    for secret in (system.secret, system.viewer, system.admin):
        assert not [form for form in forms(secret) if form in searched]
