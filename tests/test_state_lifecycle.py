"""The controller's lifecycle (issue 13): a restart writes nothing, a lost state directory is
rebuilt without a conflict, an older inventory is migrated and a newer one refused, and the
disaster (state lost and MediaMTX restarted empty) is recovered from the documents alone.

Each rehearsal runs real controllers (the loop's pass) against the MediaMTX emulator over HTTP.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_loop import PATHS, TIMING, eventually, running

from controller import wiring
from controller.api.settings import Settings
from controller.cli import main
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.loop import Controller
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"


@asynccontextmanager
async def mediamtx() -> AsyncIterator[MediaMTXEmulator]:
    emu = MediaMTXEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def passes(
    emu: MediaMTXEmulator, docs: Path, state: Path, n: int = 2, **kw: object
) -> Controller:
    """A new controller process (as after a restart) making `n` passes, then stopped."""
    async with MediaMTXClient(emu.url or "") as client:
        parts = wiring.Parts(
            wiring.files([docs]),
            wiring.devices(DEVICES),
            state,
            Settings(**kw),  # type: ignore[arg-type]
            replace(TIMING, settle=0.0),
        )
        controller = wiring.controller(parts, client)
        for _ in range(n):
            await controller.reconcile()
        controller.inventory.release()
        return controller


def owned(state: Path) -> dict[str, object]:
    paths: dict[str, object] = json.loads((state / "inventory.json").read_text())["paths"]
    return paths


async def test_a_restart_writes_nothing_to_a_converged_mediamtx(tmp_path: Path) -> None:
    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "docs"))
    async with mediamtx() as emu:
        await passes(emu, docs, tmp_path / "state")
        assert emu.path_names() == PATHS
        writes = emu.write_count
        again = await passes(emu, docs, tmp_path / "state", n=3)
        assert emu.write_count == writes
        assert again.health.errors == []


async def test_a_lost_state_directory_is_rebuilt_without_a_write_or_a_conflict(
    tmp_path: Path,
) -> None:
    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "docs"))
    state = tmp_path / "state"
    async with mediamtx() as emu:
        await passes(emu, docs, state)
        before, writes = owned(state), emu.write_count
        shutil.rmtree(state)
        again = await passes(emu, docs, state)
        assert emu.write_count == writes
        assert owned(state) == before
        reasons = {str(k): c.reason for k, s in again.statuses.items() for c in s.conditions
                   if c.type == "Ready" and k.kind == "Stream"}  # fmt: skip
        assert "PathConflict" not in reasons.values()
        first = await passes(emu, docs, state, n=1)  # and the pass after says PathConfigured
        assert all(
            c.reason == "PathConfigured"
            for k, s in first.statuses.items()
            if k.kind == "Stream"
            for c in s.conditions
            if c.type == "Ready"
        )
        # A path that differs from what camctl renders is not taken: it stays a conflict.
        shutil.rmtree(state)
        emu.set_path("cams/garage", {"source": "publisher", "runOnDemand": "someone else's"})
        after = await passes(emu, docs, state)
        assert "cams/garage" not in owned(state)
        garage = after.statuses[
            next(k for k in after.statuses if k.name == "garage" and k.kind == "Stream")
        ]
        assert next(c.reason for c in garage.conditions if c.type == "Ready") == "PathConflict"


async def test_the_disaster_state_lost_and_mediamtx_empty_is_recovered_from_the_documents(
    tmp_path: Path,
) -> None:
    """A converged box loses its state directory and MediaMTX restarts with an empty
    configuration; a new camctl with the same documents converges to the same paths, and
    the recordings already on disk are listed again."""
    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "docs"))
    roots = (str(tmp_path / "recordings"),)
    state = tmp_path / "state"
    async with mediamtx() as emu:
        await passes(emu, docs, state, recordings_roots=roots)
        configs = {name: emu.stored(name) for name in emu.path_names()}
        written = [
            emu.record("cams/front-door", datetime.now(UTC) - timedelta(seconds=s))
            for s in (30, 20)
        ]
        shutil.rmtree(state)
        emu.restart()  # MediaMTX forgets every path made through its API
        assert emu.path_names() == []
        again = await passes(emu, docs, state, recordings_roots=roots)
        assert {name: emu.stored(name) for name in emu.path_names()} == configs
        recording = next(
            s for k, s in again.statuses.items() if k.kind == "Recording" and k.name == "front-door"
        )
        assert recording.segments is not None and recording.segments.count == len(written)
        assert again.health.errors == []


async def test_an_older_inventory_is_migrated_and_kept_beside_until_a_pass_goes_well(
    tmp_path: Path,
) -> None:
    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "docs"))
    state = tmp_path / "state"
    async with mediamtx() as emu:
        await passes(emu, docs, state)
        inventory = state / "inventory.json"
        current = json.loads(inventory.read_text())
        old = json.dumps({"version": 1, "paths": current["paths"]}, indent=2)  # as camctl 0.1
        inventory.write_text(old)
        emu.fail_next(500, times=2)  # the pass after the migration cannot read MediaMTX
        await passes(emu, docs, state, n=1)
        assert json.loads(inventory.read_text())["version"] == 2
        assert (state / "inventory.json.v1").read_text() == old
        writes = emu.write_count
        await passes(emu, docs, state, n=1)
        assert not (state / "inventory.json.v1").exists()
        assert emu.write_count == writes and owned(state) == current["paths"]


def test_version_says_what_this_camctl_reads_and_writes() -> None:
    result = CliRunner().invoke(main, ["version", "-o", "json"])
    facts = json.loads(result.output)
    assert facts["apiVersion"] == "camctl.dev/v1alpha1"
    assert facts["stateFormat"] == 2 and facts["stateFormatsRead"] == [1, 2]
    assert facts["mediamtxTested"] == ["1.20.1"]
    assert facts["camctl"] == CliRunner().invoke(main, ["--version"]).output.split()[-1]


async def test_a_mediamtx_of_another_release_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        assert not any(
            "not a release camctl is tested with" in n for n in h.controller.health.notes
        )
        h.emu.version = "v1.21.0"
        h.emu.restart()  # MediaMTX restarted as a newer release: its paths are gone
        await eventually(lambda: h.controller.health.mediamtx_version == "v1.21.0")
        await h.settle()
        warning = "MediaMTX v1.21.0 is not a release camctl is tested with (v1.20.1)"
        assert any(n.startswith(warning) for n in h.controller.health.notes)
        assert h.emu.path_names() == PATHS  # converged all the same
        assert h.controller.health.errors == []


def test_plan_with_a_new_version_shows_exactly_what_it_would_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before an upgrade, the new camctl's `plan` against the running box: a version that
    renders a path differently (here, one more ffmpeg flag) shows exactly those fields, for
    every path it touches, and nothing else."""
    from controller.reconcile import render
    from controller.testing.mediamtx import run_in_thread

    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "docs"))
    emu = MediaMTXEmulator()
    with run_in_thread(emu) as url:
        args = [
            "--mediamtx",
            url,
            "--simulate-devices",
            str(DEVICES),
            "--state-dir",
            str(tmp_path / "s"),
        ]
        assert CliRunner().invoke(main, ["apply", str(docs), *args]).exit_code == 0
        before = {name: emu.stored(name) for name in emu.path_names()}
        old = render.encoder_args
        monkeypatch.setattr(
            render, "encoder_args", lambda video, fps=None: [*old(video, fps), "-threads", "2"]
        )
        render._command_around_device.cache_clear()
        result = CliRunner().invoke(main, ["plan", str(docs), *args, "-o", "json"])
        render._command_around_device.cache_clear()
    plan = json.loads(result.output)
    assert result.exit_code == 2
    changed = {a["path"]: set(a["diff"]) for a in plan["actions"]}
    assert all(a["op"] == "patch" for a in plan["actions"])
    assert changed == {
        "cams/front-door": {"runOnInit"},
        "cams/garage": {"runOnDemand"},
        "cams/workshop": {"runOnInit"},
    }
    for action in plan["actions"]:
        field = next(iter(action["diff"]))
        was, will = action["diff"][field]["from"], action["diff"][field]["to"]
        assert was == before[action["path"]][field] and "-threads" not in was
        assert will == was.replace(" -f rtsp ", " -threads 2 -f rtsp ")
    assert emu.write_count == len(before)  # plan wrote nothing
