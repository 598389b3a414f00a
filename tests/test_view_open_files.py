"""`camctl run --view` at a low open-files limit, with hundreds of slow view clients: the
controller still converges a change, never fails for EMFILE, and its log stays small. And
the limit the systemd unit sets gives the view its whole cap beside the controller's reserve.

The controller runs as a real process under `prlimit --nofile=LIMIT` (soft = hard, so it
cannot raise it) against the MediaMTX emulator; the slow clients come from another
process that holds more connections than the limit allows, sends one byte of headers
every half second, and reconnects whenever it is cut.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import pytest
from test_lifecycle import DEVICES, EXAMPLE_PATHS, EXAMPLES, ROOT, WAIT, converged, statuses
from test_manifests import unit

from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread
from controller.view.server import Limits

T = TypeVar("T")
LIMIT = 512  # open files of the controller's process
SLOW = 600  # slow clients: more than LIMIT, as in the fault campaign (1,100 at 1,024)
LOG_GROWTH = 8 * 1024  # bytes the log may grow by while they are connected
HOLD = 3.0  # seconds they stay connected after the change converged
VIEW_AT = re.compile(
    r"view at http://(?P<host>[\d.]+):(?P<port>\d+)[^;]*; at most (?P<cap>\d+) connections; "
    r"open files: limit \d+, (?P<in_use>\d+) in use"
)
SLOW_CLIENTS = """
import asyncio, json, resource, sys
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stats = {"connects": 0, "cut": 0, "refused": 0}

async def slow(connected):
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (OSError, asyncio.TimeoutError):
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["connects"] += 1
        connected.release()
        try:
            writer.write(b"GET /healthz HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nX-Slow: ")
            while not reader.at_eof():
                await asyncio.sleep(0.5)
                writer.write(b"a")
                await writer.drain()
        except OSError:
            pass
        stats["cut"] += 1
        writer.close()

async def main():
    connected = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(slow(connected)) for _ in range(count)]
    for _ in range(count):
        await connected.acquire()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps(stats), flush=True)

asyncio.run(main())
"""


@pytest.fixture
def emu() -> Iterator[MediaMTXEmulator]:
    emulator = MediaMTXEmulator()
    with run_in_thread(emulator):
        yield emulator


class Watch:
    """The most descriptors a process had open, sampled every few milliseconds."""

    def __init__(self, pid: int) -> None:
        self.pid, self.most = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            try:
                self.most = max(self.most, len(os.listdir(f"/proc/{self.pid}/fd")))
            except OSError:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.most


def wait_for(check: Callable[[], T], what: str, log: Path) -> T:
    deadline = time.monotonic() + WAIT
    while not (found := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT:.0f}s: {what}\n{log.read_text()[-4000:]}", False)
        time.sleep(0.01)
    return found


def line_of(stream: IO[bytes] | None, what: str) -> str:
    """One line from a child's stdout, or fail after WAIT seconds."""
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], WAIT)
    assert ready, f"not within {WAIT:.0f}s: {what}"
    return stream.readline().decode()


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes a test starts: killed, by their handle, if the test left them running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
            child.wait(WAIT)


def test_slow_view_clients_cannot_starve_the_controller(
    emu: MediaMTXEmulator, tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "gitops"))
    state, log = tmp_path / "state", tmp_path / "camctl.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMCTL_")}
    for preload in ("LD_PRELOAD", "UMOCKDEV_DIR"):  # this suite runs under umockdev
        env.pop(preload, None)
    assert emu.url
    command = ["prlimit", f"--nofile={LIMIT}:{LIMIT}", "--", sys.executable, "-m", "controller"]
    command += ["run", str(docs), "--mediamtx", emu.url, "--simulate-devices", str(DEVICES)]
    command += ["--state-dir", str(state), "--view", "127.0.0.1:0"]
    with log.open("wb") as err:
        camctl = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stderr=err)
    children.append(camctl)
    started = wait_for(lambda: VIEW_AT.search(log.read_text()), "the view listening", log)
    host, port = started["host"], started["port"]
    held = int(started["in_use"]) + int(started["cap"])  # descriptors once the view is full
    wait_for(converged(emu, state, EXAMPLE_PATHS), "converged", log)

    clients = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLIENTS, host, port, str(SLOW)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    children.append(clients)
    watch = Watch(camctl.pid)
    assert line_of(clients.stdout, "the slow clients connected").strip() == "ready"
    logged = log.stat().st_size
    wait_for(lambda: watch.most >= held, "the view holding its cap of connections", log)

    streams = docs / "streams.yaml"
    streams.write_text(streams.read_text().replace("bitrate: 800k", "bitrate: 1M"))
    wait_for(
        lambda: "-b:v 1000000 " in emu.stored("cams/garage").get("runOnDemand", ""),
        "the change converged",
        log,
    )
    wait_for(lambda: not statuses(state)[0].get("errors"), "a clean pass", log)
    time.sleep(HOLD)  # the clients stay: the controller's looks and passes go on
    assert not statuses(state)[0].get("errors")
    most = watch.stop()
    grown = log.stat().st_size - logged
    assert clients.stdin is not None
    clients.stdin.close()
    seen = json.loads(line_of(clients.stdout, "the slow clients' counts"))
    clients.wait(WAIT)

    text = log.read_text()
    assert "Too many open files" not in text and "EMFILE" not in text, text[-4000:]
    assert most <= LIMIT - 200, f"{most} descriptors open: the reserve was not kept"
    assert grown < LOG_GROWTH, f"the log grew by {grown} bytes:\n{text[-4000:]}"
    assert seen["connects"] >= SLOW, seen
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=WAIT) as answer:
        assert json.load(answer) == {"status": "ok"}  # room again once they left
    camctl.send_signal(signal.SIGTERM)
    assert camctl.wait(WAIT) == 0, text[-4000:]


BUDGET = "from controller.view.capacity import budget; b = budget({}, {}); print(b.connections)"


def test_the_systemd_units_limit_leaves_the_view_its_cap_and_the_reserve() -> None:
    limit = int(unit("camctl.service")["Service"]["LimitNOFILE"])  # soft and hard
    limits = Limits()
    code = BUDGET.format(limits.max_connections, limits.fd_reserve)
    done = subprocess.run(
        ["prlimit", f"--nofile={limit}:{limit}", "--", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert int(done.stdout) == limits.max_connections
    # a soft limit too low for the view is raised to the hard one at start
    done = subprocess.run(
        ["prlimit", f"--nofile=300:{limit}", "--", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert int(done.stdout) == limits.max_connections
