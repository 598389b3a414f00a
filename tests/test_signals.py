"""Signals an operator gates on tell the truth (issue 11): `plan` says "converged" and exits
0 only when MediaMTX serves everything declared; every declared resource is in every report.

Exit codes of `plan` (and `apply`, for what is left after it wrote): 0 nothing to write and
nothing blocked, 1 an error, 2 changes pending, 3 nothing to write but some resources cannot
be served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from controller.cli import main
from controller.reconcile.inventory import Inventory
from controller.testing.mediamtx import MediaMTXEmulator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"


def camctl(
    command: str, docs: Path, emu: MediaMTXEmulator, state: Path, *extra: str | Path
) -> Result:
    assert emu.url
    args = [command, docs, "--mediamtx", emu.url, "--state-dir", state, *extra]
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def plan_json(docs: Path, emu: MediaMTXEmulator, state: Path, devices: Path) -> tuple[int, Any]:
    result = camctl("plan", docs, emu, state, "--simulate-devices", devices, "-o", "json")
    return result.exit_code, json.loads(result.output)


def no_cameras(tmp_path: Path) -> Path:
    empty = tmp_path / "none.yaml"
    empty.write_text("devices: []\n")
    return empty


def test_every_camera_absent_is_not_converged(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    code, plan = plan_json(docs, emulator, tmp_path / "state", no_cameras(tmp_path))
    assert code == 3
    assert plan["converged"] is False and plan["actions"] == []
    cameras = [b for b in plan["blocked"] if b["kind"] == "Camera"]
    assert {b["name"] for b in cameras} == {"front-door", "garage", "workshop"}
    assert all(b["reason"] == "DeviceAbsent" and "plug the camera in" in b["fix"] for b in cameras)
    text = camctl(
        "plan", docs, emulator, tmp_path / "state", "--simulate-devices", no_cameras(tmp_path)
    )
    assert "No changes" not in text.output
    assert "x Camera/garage: DeviceAbsent" in text.output
    assert "Nothing to write now; 8 resource(s) cannot be served." in text.output


def test_every_stream_in_conflict_is_not_converged(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    """Paths someone else made, beside a fresh --state-dir: none is camctl's."""
    for path in ("cams/front-door", "cams/garage", "cams/workshop"):
        emulator.set_path(path, {"source": "publisher", "runOnInit": "someone else's"})
    code, plan = plan_json(docs, emulator, tmp_path / "fresh", DEVICES)
    assert code == 3 and plan["converged"] is False
    conflicts = [b for b in plan["blocked"] if b["reason"] == "PathConflict"]
    assert len(conflicts) == 3 and all("spec.adopt" in b["fix"] for b in conflicts)


def test_an_invalid_document_is_an_error_and_its_resource_is_reported(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    streams = docs / "streams.yaml"
    streams.write_text(streams.read_text().replace("fps: 30", "fps: 300"))
    code, plan = plan_json(docs, emulator, tmp_path / "state", DEVICES)
    assert code == 1 and plan["converged"] is False
    (invalid,) = [b for b in plan["blocked"] if b["reason"] == "InvalidSpec"]
    assert invalid["name"] == "front-door"
    assert invalid["message"].startswith("streams.yaml:10:")
    recording = next(b for b in plan["blocked"] if b["kind"] == "Recording")
    assert (recording["name"], recording["reason"]) == ("front-door", "StreamNotReady")


def test_a_stream_naming_an_undeclared_camera_stays_in_every_report(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    streams = docs / "streams.yaml"
    streams.write_text(streams.read_text().replace("camera: garage", "camera: garaje"))
    result = camctl("apply", docs, emulator, tmp_path / "state", "--simulate-devices", DEVICES)
    assert result.exit_code == 1
    assert "Camera/garaje is not declared (did you mean garage?)" in result.output
    rows = {line.split()[0]: line.split()[2] for line in result.output.splitlines()[1:] if line}
    assert rows.get("Stream/garage") == "InvalidReference", result.output
    assert rows.get("Recording/garage") == "StreamNotReady", result.output
    as_json = camctl(
        "apply", docs, emulator, tmp_path / "state", "--simulate-devices", DEVICES, "-o", "json"
    )
    names = {(r["kind"], r["name"]) for r in json.loads(as_json.output)["resources"]}
    assert ("Stream", "garage") in names and ("Recording", "garage") in names


def test_plan_runs_beside_a_controller_holding_the_state_directory(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    state = tmp_path / "state"
    assert camctl("apply", docs, emulator, state, "--simulate-devices", DEVICES).exit_code == 0
    running = Inventory(state)  # as `camctl run` holds it
    running.acquire()
    try:
        code, plan = plan_json(docs, emulator, state, DEVICES)
        assert (code, plan["converged"]) == (0, True), plan
        applied = camctl("apply", docs, emulator, state, "--simulate-devices", DEVICES)
        assert applied.exit_code == 1 and "in use by another camctl" in applied.output
    finally:
        running.release()


def test_converged_is_exit_0_and_says_so(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    state = tmp_path / "state"
    assert camctl("apply", docs, emulator, state, "--simulate-devices", DEVICES).exit_code == 0
    code, plan = plan_json(docs, emulator, state, DEVICES)
    assert code == 0 and plan == {
        "converged": True,
        "actions": [],
        "withheld": [],
        "blocked": [],
        "notes": [],
        "errors": [],
    }


def test_status_shows_segments_and_uses_the_views_names(
    emulator: MediaMTXEmulator, tmp_path: Path, docs: Path
) -> None:
    from controller.sinks.statusfiles import StatusStore

    state = tmp_path / "state"
    assert camctl("apply", docs, emulator, state, "--simulate-devices", DEVICES).exit_code == 0
    store = StatusStore(state)
    store.publish_controller(
        {"apiVersion": "camctl.dev/v1alpha1", "kind": "Controller", "metadata": {"name": "edge"},
         "status": {"passes": 3, "lastPass": "2026-11-30T10:00:00+00:00", "errors": []}}
    )  # fmt: skip
    recording = state / "status" / "Recording" / "default" / "front-door.json"
    document = {
        "apiVersion": "camctl.dev/v1alpha1",
        "kind": "Recording",
        "metadata": {"name": "front-door", "namespace": "default"},
        "status": {
            "conditions": [],
            "segments": {"count": 12, "newest": "2026-11-30T10:00:00Z"},
        },
    }
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_text(json.dumps(document))
    text = CliRunner().invoke(main, ["status", "--state-dir", str(state)])
    assert "12 segments, newest 2026-11-30T10:00:00Z" in text.output
    assert "controller edge: 3 passes" in text.output
    as_json = json.loads(
        CliRunner().invoke(main, ["status", "--state-dir", str(state), "-o", "json"]).output
    )
    assert as_json["controller"] == {
        "node": "edge",
        "passes": 3,
        "lastPass": "2026-11-30T10:00:00+00:00",
        "errors": [],
    }
