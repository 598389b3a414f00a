"""`camctl demo --scenario NAME`: failures played out and narrated, offline.

Each scenario runs a controller (controller.testing.harness.running) on the MediaMTX
emulator with the examples and the simulated cameras, copied into a temporary folder, then
does to it what happens on a real box — a camera unplugged, a broken edit saved, MediaMTX
restarted, a disk filling up — and prints, step by step, what it did, what camctl did (read
from camctl's own statuses, health, metrics and the emulator's paths, never from a script),
and why. A step whose outcome does not come in time ends the scenario with exit 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import click
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from controller.api.conditions import find
from controller.api.kinds import Ref
from controller.api.settings import Settings
from controller.reconcile.loop import Timing
from controller.testing.harness import SETTINGS, Running, eventually, running
from controller.testing.mediamtx import MediaMTXEmulator

T = TypeVar("T")
WAIT = 20.0  # seconds a step may take before the scenario says it failed
FILLER = 256 << 20  # bytes that stand in for hours of video in disk-filling


class StepFailed(Exception):
    """What a step expected did not happen in time."""


class Stage:
    """The world of a scenario: its controller, emulator and files, and the narration."""

    def __init__(self, run: Running, folder: Path) -> None:
        self.run, self.folder = run, folder
        self.docs, self.devices = folder / "docs", folder / "devices.yaml"
        self._steps = 0

    # --- narration ----------------------------------------------------------------------
    def step(self, text: str) -> None:
        self._steps += 1
        click.secho(f"\n{self._steps}. {text}", bold=True)

    def saw(self, text: str) -> None:
        click.echo(f"   -> {text}")

    def why(self, text: str) -> None:
        click.echo(textwrap.fill(text, 92, initial_indent="   why: ", subsequent_indent="        "))

    async def until(self, check: Callable[[], T], what: str, timeout: float = WAIT) -> T:
        try:
            return await eventually(check, timeout, what)
        except AssertionError as exc:
            raise StepFailed(str(exc)) from None

    # --- what camctl says -----------------------------------------------------------------
    def condition(self, kind: str, name: str, type_: str = "Ready") -> tuple[str, str, str]:
        status = self.run.controller.statuses.get(Ref(kind, "default", name))
        found = find(status.conditions, type_) if status is not None else None
        return (found.status, found.reason, found.message) if found else ("", "", "")

    def said(self, kind: str, name: str, type_: str = "Ready") -> str:
        status, reason, message = self.condition(kind, name, type_)
        return f"{kind}/{name} {type_}={status} {reason}: {message}"

    def ready(self, kind: str, name: str) -> bool:
        return self.condition(kind, name)[0] == "True"

    def status(self, kind: str, name: str) -> Any:
        return self.run.controller.statuses.get(Ref(kind, "default", name))

    def paths(self) -> list[str]:
        return self.run.emulator.path_names()

    def metric(self, metric: str, **labels: str) -> float:
        """A sample of the view's /metrics, as Prometheus reads it (0 when absent)."""
        text = self.run.view.metrics.exposition().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == metric and labels.items() <= sample.labels.items():
                    return float(sample.value)
        return 0.0

    # --- what happens to the box ----------------------------------------------------------
    def edit(self, file: str, old: str, new: str) -> None:
        """Save a document the way editors do: a new file renamed over the old one."""
        path = self.docs / file
        text = path.read_text()
        if old not in text:
            raise StepFailed(f"{file} no longer holds {old!r}: the examples changed")
        _replace(path, text.replace(old, new, 1))

    def unplug(self, serial: str) -> dict[str, Any]:
        """Take a camera's entry out of the simulated devices, as udev reports a removal."""
        data = YAML(typ="safe").load(self.devices.read_text())
        gone = next(d for d in data["devices"] if d.get("serial") == serial)
        data["devices"].remove(gone)
        self._write_devices(data)
        return dict(gone)

    def plug(self, device: dict[str, Any]) -> None:
        data = YAML(typ="safe").load(self.devices.read_text())
        data["devices"].append(device)
        self._write_devices(data)

    def _write_devices(self, data: Any) -> None:
        tmp = self.devices.with_suffix(".new")
        with tmp.open("w") as out:
            YAML(typ="safe").dump(data, out)
        os.replace(tmp, self.devices)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(text)
    os.replace(tmp, path)


# --- the scenarios --------------------------------------------------------------------


async def unplugged(stage: Stage) -> None:
    stage.step("camctl converges the examples: three cameras, three Streams, two Recordings.")
    stage.saw(f"MediaMTX paths: {', '.join(stage.paths())}")
    stage.saw(stage.said("Camera", "front-door"))
    before = stage.status("Stream", "front-door").device
    stage.saw(f"Stream/front-door: ffmpeg opens {before}")

    stage.step("Unplug the front-door camera (serial A1B2C3D4): udev reports it gone.")
    device = stage.unplug("A1B2C3D4")
    await stage.until(
        lambda: "cams/front-door" not in stage.paths() and not stage.ready("Stream", "front-door"),
        "the path of the unplugged camera removed",
    )
    stage.saw(stage.said("Camera", "front-door"))
    stage.saw(stage.said("Stream", "front-door"))
    stage.saw(f"MediaMTX paths: {', '.join(stage.paths())} (the others untouched)")
    stage.why(
        "an absent camera cannot publish: its ffmpeg would only fail in a loop, so camctl "
        "removes the path and says why. The documents did not change; the Camera keeps the "
        "device it last had (status.lastDevice) until it is back."
    )

    stage.step("Plug it back in: the kernel numbers it /dev/video6 this time, not /dev/video0.")
    stage.plug({**device, "node": "/dev/video6"})
    await stage.until(
        lambda: "cams/front-door" in stage.paths() and stage.ready("Stream", "front-door"),
        "the path added back",
    )
    stage.saw(stage.said("Camera", "front-door"))
    stage.saw(stage.said("Stream", "front-door"))
    after = stage.status("Stream", "front-door").device
    same = "the same name" if after == before else "a new name"
    stage.saw(f"Stream/front-door: ffmpeg opens {after} ({same})")
    stage.why(
        "camctl matches a camera by serial, vendor and product, or USB port, never by its "
        "/dev/videoN number, and ffmpeg opens udev's by-id link, named after the serial."
    )


async def broken_edit(stage: Stage) -> None:
    stage.step("camctl converges the examples.")
    stage.saw(f"MediaMTX paths: {', '.join(stage.paths())}")
    writes = stage.run.emulator.write_count

    stage.step(
        "Someone saves streams.yaml with a typo (front-door at 300 fps: 240 is the most) "
        "and, in the same save, deletes the workshop Stream."
    )
    stage.edit("streams.yaml", "fps: 30,", "fps: 300,")
    _drop(stage, "streams.yaml", "workshop")
    errors = await stage.until(lambda: stage.run.controller.health.errors, "the error reported")
    stage.saw(f"camctl status: {len(errors)} errors under the controller (the log lines above)")
    await asyncio.sleep(3)  # longer than the settle time: nothing may happen meanwhile
    stage.saw(f"MediaMTX paths: {', '.join(stage.paths())} (cams/workshop kept)")
    stage.saw(f"writes to MediaMTX since the save: {stage.run.emulator.write_count - writes}")
    stage.why(
        "a file that does not load looks exactly like one whose Streams were removed on "
        "purpose. Its last good version stays in force and nothing is removed until every "
        "document loads; the error names the file, line, column and field."
    )

    stage.step("Fix the typo (fps: 30), still without the workshop Stream.")
    stage.edit("streams.yaml", "fps: 300,", "fps: 30,")
    started = time.monotonic()
    await stage.until(lambda: "cams/workshop" not in stage.paths(), "cams/workshop deleted")
    stage.saw(f"cams/workshop deleted {time.monotonic() - started:.1f} s after the fix")
    stage.saw(f"MediaMTX paths: {', '.join(stage.paths())}")
    stage.saw(f"controller errors: {len(stage.run.controller.health.errors)}")
    stage.why(
        "now the documents load clean and read the same for 2 s (the settle time), so the "
        "removal is deliberate. front-door's spec equals its last good version: not rewritten."
    )


def _drop(stage: Stage, file: str, name: str) -> None:
    """Save `file` without the document of that name."""
    documents = (stage.docs / file).read_text().split("\n---\n")
    kept = [d for d in documents if f"name: {name}\n" not in d]
    if len(kept) != len(documents) - 1:
        raise StepFailed(f"{file} has no single document named {name}: the examples changed")
    _replace(stage.docs / file, "\n---\n".join(kept))


async def mediamtx_restarted(stage: Stage) -> None:
    emulator = stage.run.emulator
    stage.step("camctl converges the examples.")
    stage.saw(f"MediaMTX paths: {', '.join(stage.paths())}")

    stage.step("MediaMTX restarts (an upgrade, a crash): it comes back without camctl's paths.")
    adds = stage.metric("camctl_actions_total", op="add")
    emulator.restart()
    started = time.monotonic()
    await stage.until(lambda: len(stage.paths()) == 3, "every path restored")
    stage.saw(f"all 3 paths back in {time.monotonic() - started:.2f} s: {', '.join(stage.paths())}")
    added = await stage.until(  # counted once the pass that wrote them has ended
        lambda: stage.metric("camctl_actions_total", op="add") - adds, "the writes counted"
    )
    stage.saw(f'camctl_actions_total{{op="add"}} +{added:.0f}')
    stage.saw(
        f"camctl_drift_corrections_total {stage.metric('camctl_drift_corrections_total'):.0f}"
    )
    stage.why(
        "MediaMTX keeps paths made through its API in memory only. camctl is their store: its "
        "idle connection to MediaMTX closed when MediaMTX exited, so it looked at once, found "
        "a new start time and wrote the paths back. Nothing declared had changed: drift."
    )

    stage.step("MediaMTX stops and stays down for a few seconds.")
    url = emulator.url or ""
    await emulator.stop()
    await stage.until(
        lambda: stage.run.controller.health.mediamtx_reachable is False, "MediaMTX seen down"
    )
    stage.saw(stage.said("Stream", "front-door"))
    stage.saw(f"camctl_mediamtx_up {stage.metric('camctl_mediamtx_up'):.0f}")
    owned = (stage.folder / "state" / "inventory.json").read_text().count('"cams/')
    stage.saw(f"the inventory still owns {owned} paths: nothing is forgotten or deleted")
    stage.why(
        "camctl cannot tell a MediaMTX that is down from one that lost its paths, so it "
        "deletes nothing, says Unknown, and asks again every second."
    )
    await asyncio.sleep(3)

    stage.step("MediaMTX starts again, empty.")
    emulator.restart()
    await emulator.start("127.0.0.1", int(url.rsplit(":", 1)[1]))
    started = time.monotonic()
    await stage.until(lambda: len(stage.paths()) == 3, "every path restored")
    stage.saw(f"all 3 paths back {time.monotonic() - started:.2f} s after it answered")
    await stage.until(lambda: stage.ready("Stream", "front-door"), "Stream/front-door Ready")
    stage.saw(stage.said("Stream", "front-door"))
    stage.saw(f"camctl_mediamtx_up {stage.metric('camctl_mediamtx_up'):.0f}")


async def stalled_stream(stage: Stage) -> None:
    emulator, path = stage.run.emulator, "cams/front-door"
    stage.step("camctl converges the examples; front-door's video flows.")
    bitrate = await stage.until(
        lambda: _healthy(stage) == "True" and _bitrate(stage), "Stream/front-door Healthy"
    )
    stage.saw(stage.said("Stream", "front-door", "Healthy"))
    stage.saw(f"camctl_stream_inbound_bitrate {bitrate:.0f} (bits a second)")

    stage.step(
        "front-door's ffmpeg hangs: it keeps its connection to MediaMTX but sends nothing "
        "(a camera that stopped delivering frames). MediaMTX sees no exit: it never restarts it."
    )
    emulator.stall(path)
    started = time.monotonic()
    await stage.until(lambda: _healthy(stage) == "False", "Healthy=False", timeout=60)
    seconds = time.monotonic() - started
    stage.saw(f"after {seconds:.0f} s: {stage.said('Stream', 'front-door', 'Healthy')}")
    healthy = stage.metric("camctl_stream_healthy", name="front-door")
    stage.saw(f"camctl_stream_healthy {healthy:.0f}")
    stage.why(
        "the bytes MediaMTX received on the path stood still for the Stream's "
        "spec.health.stallAfter (4 s here, 15 s by default): a hung publisher. The watchdog "
        "restarted it by recreating the path (a delete, then an add, of that path alone)."
    )

    stage.step("MediaMTX starts the recreated path's ffmpeg afresh, and the video flows again.")
    await stage.until(lambda: not emulator.stalled(path), "the path recreated", timeout=60)
    await stage.until(lambda: _healthy(stage) == "True", "Healthy again", timeout=60)
    status = stage.status("Stream", "front-door")
    stage.saw(stage.said("Stream", "front-door", "Healthy"))
    stage.saw(f"status.restarts {status.restarts}, lastRestartTime {status.last_restart_time}")
    restarts = stage.metric("camctl_stream_restarts_total", name="front-door")
    actions = stage.metric("camctl_actions_total", op="restart")
    stage.saw(f"camctl_stream_restarts_total {restarts:.0f}")
    stage.saw(f'camctl_actions_total{{op="restart"}} {actions:.0f}')
    stage.why(
        "a restart cuts nothing that worked: only that path was written. If it stalls again, "
        "the next restart waits twice as long (at most 10 minutes), and the alert "
        "CamctlStreamRestartStorm fires after more than 3 in an hour."
    )


def _healthy(stage: Stage) -> str:
    return stage.condition("Stream", "front-door", "Healthy")[0]


def _bitrate(stage: Stage) -> float:
    return stage.metric("camctl_stream_inbound_bitrate", name="front-door")


async def disk_filling(stage: Stage) -> None:
    recording = ("Recording", "front-door")
    stage.step("camctl records front-door and garage; MediaMTX writes a segment every second.")
    if shutil.which("ffmpeg"):
        await stage.until(_segments(stage), "a segment counted")
    else:
        stage.saw("ffmpeg is not installed: no segments are written, the disk is still watched")
    stage.saw(_disk_line(stage))
    stage.saw(stage.said(*recording, "DiskLow"))

    stage.step(
        f"The disk fills up: a file of {FILLER >> 20} MiB stands in for the hours of video to come."
    )
    filler = stage.folder / "recordings" / "cams" / "front-door" / "hours-of-video.bin"
    _fill(filler, FILLER)
    await stage.until(lambda: stage.condition(*recording, "DiskLow")[0] == "True", "DiskLow")
    stage.saw(stage.said(*recording, "DiskLow"))
    stage.saw(_disk_line(stage))
    stage.why(
        "MediaMTX deletes segments only by each Recording's retention, never because the "
        "disk is full. camctl warns (the DiskLow condition, camctl_recording_disk_free_bytes; "
        "the CamctlRecordingDiskLow alert after 15 minutes under 10%) and never deletes "
        "footage itself."
    )

    stage.step("The operator shortens front-door's retention from 7 days to 1 day.")
    before = _retention(stage)
    stage.edit("recordings.yaml", "retention: 7d", "retention: 1d")
    await stage.until(lambda: _retention(stage) != before, "recordDeleteAfter patched")
    stage.saw(f"MediaMTX: cams/front-door recordDeleteAfter {before} -> {_retention(stage)}")
    patches = [b for m, p, b in stage.run.emulator.requests if m == "PATCH" and "front-door" in p]
    stage.saw(f"the PATCH changed only: {', '.join(sorted(patches[-1]))}")
    stage.saw(stage.said(*recording))
    stage.why(
        "a shorter retention deletes footage, so camctl applies it only from clean documents "
        "that read the same for 2 s. It is a record field: MediaMTX applies it in place, the "
        "live video is not cut, and MediaMTX deletes what is older."
    )

    stage.step("Old footage is moved off the disk (here: the stand-in file is deleted).")
    filler.unlink()
    await stage.until(lambda: stage.condition(*recording, "DiskLow")[0] == "False", "DiskOk")
    stage.saw(stage.said(*recording, "DiskLow"))


def _segments(stage: Stage) -> Callable[[], bool]:
    def counted() -> bool:
        status = stage.status("Recording", "front-door")
        return bool(status and status.segments and status.segments.count)

    return counted


def _retention(stage: Stage) -> str:
    return str(stage.run.emulator.resolved("cams/front-door")["recordDeleteAfter"])


def _disk_line(stage: Stage) -> str:
    status = stage.status("Recording", "front-door")
    disk = status.disk if status else None
    segments = status.segments.count if status and status.segments else 0
    if disk is None or not disk.total_bytes:
        return f"Recording/front-door: segments {segments}; disk not measured yet"
    share = 100 * disk.free_bytes / disk.total_bytes
    return f"Recording/front-door: segments {segments}; {share:.3f}% of its disk free"


def _fill(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        try:
            os.posix_fallocate(out.fileno(), 0, size)  # blocks taken at once, nothing written
        except OSError:
            block = bytes(1 << 20)
            for _ in range(size >> 20):
                out.write(block)


# --- the register ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    play: Callable[[Stage], Awaitable[None]]
    timing: Timing = field(default_factory=Timing)
    records: bool = False
    stall_after: str | None = None  # front-door's spec.health.stallAfter, if set


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("camera-unplugged", "A camera unplugged and plugged back in", unplugged),
        Scenario("broken-edit", "A broken edit is held; the fix applies it", broken_edit),
        Scenario("mediamtx-restarted", "MediaMTX restarted, then down", mediamtx_restarted),
        Scenario(
            "stalled-stream",
            "A stalled stream healed",
            stalled_stream,
            timing=Timing(resync=1.0),  # the watchdog judges on passes: one a second here
            stall_after="4s",
        ),
        Scenario(
            "disk-filling",
            "A recording filling the disk",
            disk_filling,
            timing=Timing(resync=1.0),  # the disk wakes nothing: a pass every second
            records=True,
        ),
    )
}


def play(name: str, examples: Path = Path("examples")) -> int:
    """Play scenario `name` from the repository root; the exit code (0 as narrated)."""
    scenario = SCENARIOS[name]
    click.secho(f"Scenario {scenario.name}: {scenario.title}", bold=True)
    if not (examples / "gitops").is_dir() or not (examples / "devices.yaml").is_file():
        raise click.ClickException(f"run the demo from the repository root ({examples}/ missing)")
    _log_to_stdout()
    with tempfile.TemporaryDirectory(prefix="camctl-scenario-") as tmp:
        folder = Path(tmp)
        shutil.copytree(examples / "gitops", folder / "docs")
        shutil.copy(examples / "devices.yaml", folder / "devices.yaml")
        if scenario.stall_after:
            _stall_after(folder / "docs" / "streams.yaml", scenario.stall_after)
        click.echo(
            f"The examples and simulated cameras, copied to {folder}; MediaMTX is the emulator."
        )
        try:
            asyncio.run(_play(scenario, folder))
        except StepFailed as failed:
            click.secho(f"   FAILED: {failed}", fg="red", err=True)
            return 1
    click.secho("\nDone.", bold=True)
    return 0


def _stall_after(streams: Path, after: str) -> None:
    """front-door's Stream with a shorter stallAfter, so that the demo waits less."""
    text = streams.read_text()
    line = "  mode: always              # runOnInit: ffmpeg runs all the time\n"
    if line not in text:
        raise click.ClickException(f"{streams}: front-door's `mode: always` line has changed")
    streams.write_text(text.replace(line, f"{line}  health: {{stallAfter: {after}}}\n", 1))


def _log_to_stdout() -> None:
    """camctl's log lines among the narration, as journalctl would show them."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("   log: %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("watchfiles", "aiohttp.access", "camctl.view"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _play(scenario: Scenario, folder: Path) -> None:
    settings = replace(SETTINGS, recordings_roots=(str(folder / "recordings"),))
    if scenario.records:
        settings = _disk_threshold(settings, folder)
    emulator = MediaMTXEmulator(record_every=1.0 if scenario.records else None)
    state, docs, devices = folder / "state", folder / "docs", folder / "devices.yaml"
    async with running(
        docs, devices, state, timing=scenario.timing, settings=settings, emulator=emulator
    ) as run:
        await eventually(lambda: len(emulator.path_names()) == 3, WAIT, "the examples applied")
        await scenario.play(Stage(run, folder))


def _disk_threshold(settings: Settings, folder: Path) -> Settings:
    """DiskLow just under the share free now, so that FILLER bytes cross it whatever the
    disk's size: half of FILLER below, so other programs' writes do not decide it."""
    st = os.statvfs(folder)
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    if free < 4 * FILLER:
        raise click.ClickException(f"disk-filling needs {4 * FILLER >> 20} MiB free in {folder}")
    threshold = 100 * (free - FILLER / 2) / total
    click.echo(
        f"So that this demo never fills your disk, camctl's DiskLow threshold (--disk-low, "
        f"10% by default) is {threshold:.3f}% here: just under the {100 * free / total:.3f}% "
        "free now."
    )
    return replace(settings, disk_low_percent=threshold)
