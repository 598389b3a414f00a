"""`camctl run` as a real process: signals, kill -9 in the middle of an apply, logs, the lock.

Each test starts `python -m controller run` against a MediaMTX emulator served from a thread
of the test process, with simulated devices and a private state directory, and watches it
from outside: the emulator's paths, the status files, the exit code and stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.reconcile.inventory import Inventory
from controller.sinks.statusfiles import StatusStore
from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"
EXAMPLE_PATHS = {"cams/front-door", "cams/garage", "cams/workshop"}
WAIT = 10.0  # wide upper bounds for a loaded CI machine; the tests rarely wait a second
STOP_WITHIN = 2.0  # what the issue promises for SIGTERM and SIGINT


@pytest.fixture
def emu() -> Iterator[MediaMTXEmulator]:
    emulator = MediaMTXEmulator()
    with run_in_thread(emulator):
        yield emulator


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of examples/gitops."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "gitops"))


class Camctl:
    """One `camctl run` process; stderr goes to a file, so a chatty process never blocks."""

    def __init__(self, args: list[str], log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMCTL_")}
        for preload in ("LD_PRELOAD", "UMOCKDEV_DIR"):  # this suite runs under umockdev
            env.pop(preload, None)
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "controller", "run", *args],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
            )

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: signal.Signals) -> tuple[int, float]:
        """Send `sig`; the exit code and how long the exit took."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"camctl ignored {sig.name} for {WAIT:.0f}s:\n{self.stderr()}", False)
        return code, time.monotonic() - started

    def wait_exit(self) -> int:
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"camctl still runs after {WAIT:.0f}s:\n{self.stderr()}", False)


@pytest.fixture
def camctl(tmp_path: Path, emu: MediaMTXEmulator) -> Iterator[Callable[..., Camctl]]:
    """Start `camctl run DOCS --mediamtx EMU --simulate-devices DEVICES --state-dir STATE …`."""
    started: list[Camctl] = []

    def start(
        docs: Path, devices: Path = DEVICES, state: Path | None = None, *extra: str
    ) -> Camctl:
        assert emu.url
        args = [str(docs), "--mediamtx", emu.url, "--simulate-devices", str(devices)]
        args += ["--state-dir", str(state or tmp_path / "state"), *extra]
        process = Camctl(args, tmp_path / f"camctl-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:  # only the processes this test started, by their handle
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(WAIT)
        assert process.proc.stdout is not None
        process.proc.stdout.close()


def eventually(check: Callable[[], Any], what: str, process: Camctl | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if process is not None and process.proc.poll() is not None:
            pytest.fail(f"camctl exited ({process.proc.returncode}):\n{process.stderr()}", False)
        if time.monotonic() > deadline:
            logs = process.stderr() if process else ""
            pytest.fail(f"not within {WAIT:.0f}s: {what}\n{logs}", pytrace=False)
        time.sleep(0.005)


def statuses(state: Path) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The controller's health, and each resource's Ready (status, reason), from status files."""
    controller, resources = StatusStore(state).read()
    ready = {}
    for doc in resources:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        for cond in doc["status"].get("conditions", []):
            if cond["type"] == "Ready":
                ready[name] = (cond["status"], cond["reason"])
    return controller or {}, ready


def converged(emu: MediaMTXEmulator, state: Path, paths: set[str]) -> Callable[[], bool]:
    """MediaMTX has exactly `paths`, and the controller says its last pass succeeded."""

    def check() -> bool:
        health, _ = statuses(state)
        return set(emu.path_names()) == paths and bool(health.get("lastSuccess"))

    return check


# --- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_signal_after_converging_exits_0_quickly(
    camctl: Callable[..., Camctl],
    emu: MediaMTXEmulator,
    docs: Path,
    tmp_path: Path,
    sig: signal.Signals,
) -> None:
    process = camctl(docs)
    eventually(converged(emu, tmp_path / "state", EXAMPLE_PATHS), "converged", process)

    code, took = process.stop(sig)

    assert code == 0, process.stderr()
    assert took < STOP_WITHIN, f"{sig.name} took {took:.2f}s"
    assert "Traceback" not in process.stderr()
    assert set(emu.path_names()) == EXAMPLE_PATHS  # stopping deletes nothing


def test_sigterm_in_a_pass_lets_it_finish(
    camctl: Callable[..., Camctl], emu: MediaMTXEmulator, docs: Path, tmp_path: Path
) -> None:
    emu.delay = 0.25  # one pass: list (0.25 s), then the adds (0.25 s): well inside the grace
    process = camctl(docs)
    eventually(lambda: len(emu.requests) > 0, "the first pass under way", process)

    code, took = process.stop(signal.SIGTERM)

    assert code == 0, process.stderr()
    assert took < STOP_WITHIN, f"SIGTERM took {took:.2f}s"
    assert set(emu.path_names()) == EXAMPLE_PATHS  # the pass was finished, not cut short
    assert set(Inventory(tmp_path / "state").load()) == EXAMPLE_PATHS


# --- kill -9 in the middle of an apply ----------------------------------------------------

MANY = 40


def many_cameras(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """MANY Camera+Stream documents, their simulated devices, and the declared paths."""
    docs = tmp_path / "many"
    docs.mkdir()
    documents, devices = [], ["devices:"]
    for i in range(MANY):
        serial = f"SER{i:05d}"
        documents.append(
            f"apiVersion: camctl.dev/v1alpha1\nkind: Camera\nmetadata: {{name: cam{i}}}\n"
            f"spec:\n  match: {{serial: {serial!r}}}\n---\n"
            f"apiVersion: camctl.dev/v1alpha1\nkind: Stream\nmetadata: {{name: cam{i}}}\n"
            f"spec:\n  camera: cam{i}\n  path: site/cam{i}\n  mode: always\n"
            "  video: {width: 640, height: 480, fps: 15, bitrate: 1M}\n"
        )
        devices.append(
            f"  - {{node: /dev/video{2 * i}, serial: {serial!r},"
            f" byId: /dev/v4l/by-id/usb-Acme_{serial}-video-index0}}"
        )
    (docs / "cameras.yaml").write_text("---\n".join(documents))
    devices_file = tmp_path / "many-devices.yaml"
    devices_file.write_text("\n".join(devices) + "\n")
    return docs, devices_file, {f"site/cam{i}" for i in range(MANY)}


def test_kill_9_mid_apply_then_restart_converges_exactly(
    camctl: Callable[..., Camctl], emu: MediaMTXEmulator, tmp_path: Path
) -> None:
    docs, devices, declared = many_cameras(tmp_path)
    state = tmp_path / "state"
    emu.delay = 0.2  # every answer: the adds go 8 at a time, a batch every 0.2 s
    first = camctl(docs, devices, state)
    eventually(lambda: len(emu.path_names()) > 0, "some paths added", first)
    first.proc.kill()
    first.proc.wait(WAIT)
    time.sleep(2 * emu.delay)  # requests already sent still land, as they would in MediaMTX
    at_kill = set(emu.path_names())
    assert 0 < len(at_kill) < MANY, "the kill did not land in the middle of the apply"
    # intent first: whatever may exist in MediaMTX is already in the inventory
    assert at_kill <= set(Inventory(state).load())
    assert statuses(state)[0] == {}  # it never finished a pass: what follows is the restart's

    emu.delay = 0.0
    requests_before = len(emu.requests)
    second = camctl(docs, devices, state)
    eventually(converged(emu, state, declared), "converged after the restart", second)

    health, ready = statuses(state)
    assert health.get("errors", []) == []
    streams = {name: r for name, r in ready.items() if name.startswith("Stream/")}
    assert len(streams) == MANY
    assert set(streams.values()) == {("True", "PathConfigured")}  # no PathConflict
    assert set(Inventory(state).load()) == declared  # no orphans, nothing forgotten
    writes = [(m, p) for m, p, _ in emu.requests[requests_before:] if m != "GET"]
    added = sorted(p.rsplit("/add/", 1)[1] for m, p in writes if "/add/" in p)
    assert added == sorted(declared - at_kill)  # no second add of a path that existed
    assert len(writes) == len(added)  # and no patch or delete either
    code, _ = second.stop(signal.SIGTERM)
    assert code == 0, second.stderr()


# --- logs and the lock ----------------------------------------------------------------------


def test_json_logs_are_one_object_per_line(
    camctl: Callable[..., Camctl], emu: MediaMTXEmulator, docs: Path, tmp_path: Path
) -> None:
    process = camctl(docs, DEVICES, None, "--log-format", "json")
    eventually(converged(emu, tmp_path / "state", EXAMPLE_PATHS), "converged", process)
    code, _ = process.stop(signal.SIGTERM)
    assert code == 0

    lines = process.stderr().splitlines()
    entries = []
    for line in lines:
        entry = json.loads(line)  # every line, not just most
        assert isinstance(entry, dict), line
        assert isinstance(entry.get("level"), str) and isinstance(entry.get("message"), str), line
        entries.append(entry)
    assert {e["level"] for e in entries} <= {"debug", "info", "warning", "error", "critical"}
    messages = [e["message"] for e in entries]
    assert {f"add {p}" for p in EXAMPLE_PATHS} <= set(messages)
    assert messages[-1].startswith("stopped after")
    assert process.proc.stdout is not None and process.proc.stdout.read() == b""


def test_second_controller_on_the_same_state_dir_refuses(
    camctl: Callable[..., Camctl], emu: MediaMTXEmulator, docs: Path, tmp_path: Path
) -> None:
    first = camctl(docs)
    eventually(converged(emu, tmp_path / "state", EXAMPLE_PATHS), "first converged", first)
    writes = emu.write_count

    second = camctl(docs)
    code = second.wait_exit()

    assert code == 1
    state = tmp_path / "state"
    assert f"Error: {state} is in use by another camctl" in second.stderr()
    assert "--state-dir" in second.stderr()  # says what to do about it
    assert "Traceback" not in second.stderr()
    assert first.proc.poll() is None  # the first one is unharmed
    assert emu.write_count == writes
    code, _ = first.stop(signal.SIGTERM)
    assert code == 0
