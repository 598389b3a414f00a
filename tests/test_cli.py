"""The camctl commands end to end: files, simulated devices, the MediaMTX emulator over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from openapi_contract import assert_requests_match_spec

from controller.cli import main
from controller.sources.files import load
from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"
PASSWORD = "Sup3r-s3cret-pw"


def camctl(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def against(emu: MediaMTXEmulator, tmp_path: Path, *extra: str) -> list[str]:
    assert emu.url
    state = tmp_path / "state"
    return [
        "--mediamtx",
        emu.url,
        "--simulate-devices",
        str(DEVICES),
        "--state-dir",
        str(state),
        *extra,
    ]


def run(command: str, docs: Path, emu: MediaMTXEmulator, tmp_path: Path, *extra: str) -> Result:
    return camctl(command, docs, *against(emu, tmp_path, *extra))


# --- validate, schema, devices -------------------------------------------------------


def test_validate_examples() -> None:
    result = camctl("validate", EXAMPLES)
    assert result.exit_code == 0, result.output
    assert "3 file(s), 8 resource(s): valid" in result.output


def test_validate_prints_every_error_and_exits_1(docs: Path) -> None:
    streams = docs / "streams.yaml"
    streams.write_text(
        streams.read_text().replace("fps: 30", "fps: 300").replace("bitrate: 800k", "bitrate: lots")
    )
    result = camctl("validate", docs, "-o", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    assert [e.split(": ")[1:3] for e in report["errors"]] == [
        ["Stream/front-door", "spec.video.fps"],
        ["Stream/garage", "spec.video.bitrate"],
    ]
    assert all(e.startswith(f"{streams}:") for e in report["errors"])


def test_schema_is_json_schema_that_accepts_the_examples() -> None:
    import jsonschema
    from ruamel.yaml import YAML

    schema = json.loads(camctl("schema").output)
    validator = jsonschema.Draft202012Validator(schema)
    for path in EXAMPLES.glob("*.yaml"):
        for document in YAML(typ="safe").load_all(path.read_text()):
            assert list(validator.iter_errors(document)) == [], path
    bad = {
        "apiVersion": "camctl.dev/v1alpha1",
        "kind": "Stream",
        "metadata": {"name": "x"},
        "spec": {"camera": "x", "colour": 1},
    }
    assert list(validator.iter_errors(bad))
    # Editors flag a malformed duration or bitrate as it is typed, not only camctl validate.
    for spec in ({"stream": "x", "retention": "3 days"}, {"stream": "x", "segmentDuration": "1y"}):
        recording = {**bad, "kind": "Recording", "spec": spec}
        assert jsonschema.exceptions.best_match(validator.iter_errors(recording)).validator == (
            "pattern"
        )
    stream = {**bad, "spec": {"camera": "x", "video": {"bitrate": "fast"}}}
    assert jsonschema.exceptions.best_match(validator.iter_errors(stream)).validator == "pattern"


def test_devices_lists_and_suggests_unclaimed(tmp_path: Path) -> None:
    listed = json.loads(camctl("devices", "--simulate-devices", DEVICES, "-o", "json").output)
    assert [d["node"] for d in listed] == ["/dev/video0", "/dev/video2", "/dev/video4"]
    assert listed[0]["byId"].startswith("/dev/v4l/by-id/")

    table = camctl("devices", "--simulate-devices", DEVICES, "--declared", EXAMPLES).output
    assert "Camera/front-door" in table

    suggested = camctl("devices", "--simulate-devices", DEVICES, "--suggest").output
    out = tmp_path / "cams.yaml"
    out.write_text(suggested)
    loaded = load([out])
    assert loaded.errors == []
    assert sorted(c.spec.match.serial or "-" for c in loaded.desired.cameras.values()) == [
        "-",
        "5F3A1B20",
        "A1B2C3D4",
    ]
    # What the suggestion declares matches exactly the device it was made from.
    assert "usbPath: pci-0000:00:14.0-usb-0:3:1.0" in suggested

    partial = tmp_path / "partial.yaml"
    partial.write_text((EXAMPLES / "cameras.yaml").read_text().split("---")[0])
    rest = camctl(
        "devices", "--simulate-devices", DEVICES, "--suggest", "--declared", partial
    ).output
    assert "A1B2C3D4" not in rest and "5F3A1B20" in rest


# --- plan and apply ------------------------------------------------------------------


def test_plan_apply_plan_converges_with_one_write_per_change(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    pending = run("plan", docs, emulator, tmp_path)
    assert pending.exit_code == 2, pending.output
    assert "+ add cams/front-door  (Stream/front-door)" in pending.output
    assert "Plan: 3 to add, 0 to change, 0 to delete." in pending.output
    assert emulator.write_count == 0

    applied = run("apply", docs, emulator, tmp_path, "-o", "json")
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.output)
    assert [(a["op"], a["path"]) for a in report["actions"]] == [
        ("add", "cams/front-door"),
        ("add", "cams/garage"),
        ("add", "cams/workshop"),
    ]
    ready = {f"{r['kind']}/{r['name']}": cond(r, "Ready") for r in report["resources"]}
    assert set(ready.values()) == {"True"}, ready
    assert emulator.write_count == 3

    again = run("apply", docs, emulator, tmp_path)
    assert again.exit_code == 0 and "No changes" in again.output
    assert emulator.write_count == 3  # converged: no write at all
    assert run("plan", docs, emulator, tmp_path).exit_code == 0
    assert_requests_match_spec(emulator.requests)

    conf = emulator.resolved("cams/front-door")
    assert (
        conf["runOnInit"].startswith("ffmpeg ")
        and "/dev/v4l/by-id/usb-046d_HD_Pro" in conf["runOnInit"]
    )
    assert conf["record"] is True and conf["recordDeleteAfter"] == "7d"
    assert "/dev/v4l/by-path/" in emulator.resolved("cams/workshop")["runOnInit"]
    assert emulator.resolved("cams/garage")["runOnDemand"] != ""


def cond(resource: dict[str, Any], type_: str) -> str:
    return next(c["status"] for c in resource["status"]["conditions"] if c["type"] == type_)


def test_drift_is_patched_field_by_field(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    run("apply", docs, emulator, tmp_path)
    emulator.set_path("cams/garage", {**emulator.stored("cams/garage"), "recordDeleteAfter": "30d"})
    result = run("plan", docs, emulator, tmp_path)
    assert result.exit_code == 2
    assert (
        '~ patch cams/garage  (Stream/garage)\n    recordDeleteAfter: "30d" -> "2d"'
        in result.output
    )
    writes = emulator.write_count
    assert run("apply", docs, emulator, tmp_path).exit_code == 0
    assert emulator.write_count == writes + 1
    assert emulator.requests[-1][0] == "PATCH" and emulator.requests[-1][2] == {
        "recordDeleteAfter": "2d"
    }


def test_mediamtx_restart_is_repaired(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    run("apply", docs, emulator, tmp_path)
    emulator.restart()
    assert run("apply", docs, emulator, tmp_path).exit_code == 0
    assert emulator.path_names() == ["cams/front-door", "cams/garage", "cams/workshop"]


def test_unowned_path_is_a_conflict_until_adopted(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    emulator.set_path("cams/front-door", {"runOnInit": "someone-elses-command"})
    result = run("apply", docs, emulator, tmp_path)
    assert result.exit_code == 1
    assert "PathConflict" in result.output
    assert emulator.resolved("cams/front-door")["runOnInit"] == "someone-elses-command"

    streams = docs / "streams.yaml"
    streams.write_text(
        streams.read_text().replace(
            "  camera: front-door\n", "  camera: front-door\n  adopt: true\n"
        )
    )
    assert run("apply", docs, emulator, tmp_path).exit_code == 0
    assert emulator.resolved("cams/front-door")["runOnInit"].startswith("ffmpeg ")


def test_removed_stream_is_deleted_but_a_broken_file_deletes_nothing(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    emulator.set_path("not/ours", {})
    run("apply", docs, emulator, tmp_path)
    streams = docs / "streams.yaml"
    good = streams.read_text()
    streams.write_text(good.replace("fps: 30", "fps: [broken"))
    broken = run("apply", docs, emulator, tmp_path)
    assert broken.exit_code == 1 and f"{streams}:" in broken.output
    assert len(emulator.path_names()) == 4

    streams.write_text(good.split("---")[0])  # only front-door is left
    (docs / "recordings.yaml").write_text((docs / "recordings.yaml").read_text().split("---")[0])
    assert run("apply", docs, emulator, tmp_path).exit_code == 0
    assert emulator.path_names() == ["cams/front-door", "not/ours"]


def test_empty_source_deletes_nothing_unless_allowed(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    run("apply", docs, emulator, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("apply", empty, emulator, tmp_path)
    assert "--allow-empty" in result.output and len(emulator.path_names()) == 3
    assert run("apply", empty, emulator, tmp_path, "--allow-empty").exit_code == 0
    assert emulator.path_names() == []


def test_unplugged_camera_removes_its_path(
    docs: Path, emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    run("apply", docs, emulator, tmp_path)
    fewer = tmp_path / "devices.yaml"
    fewer.write_text(DEVICES.read_text().split("  - node: /dev/video2")[0])
    assert emulator.url
    result = camctl(
        "apply",
        docs,
        "--mediamtx",
        emulator.url,
        "--simulate-devices",
        fewer,
        "--state-dir",
        tmp_path / "state",
    )
    assert result.exit_code == 3, result.output  # written, but two cameras cannot be served
    assert emulator.path_names() == ["cams/front-door"]
    assert "DeviceAbsent" in result.output


def test_unreachable_mediamtx_is_an_error_not_a_crash(docs: Path, tmp_path: Path) -> None:
    result = camctl(
        "plan",
        docs,
        "--mediamtx",
        "http://127.0.0.1:9",
        "--simulate-devices",
        DEVICES,
        "--state-dir",
        tmp_path,
    )
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.output


def test_credentials_are_used_and_never_printed(docs: Path, tmp_path: Path) -> None:
    emu = MediaMTXEmulator(users=[("camctl", PASSWORD)])
    with run_in_thread(emu):
        denied = run("apply", docs, emu, tmp_path, "-o", "json")
        assert denied.exit_code == 1 and "401" in denied.output
        secret = tmp_path / "password"
        secret.write_text(PASSWORD + "\n")
        env = {"CAMCTL_MEDIAMTX_USER": "camctl", "CAMCTL_MEDIAMTX_PASSWORD_FILE": str(secret)}
        result = camctl("apply", docs, *against(emu, tmp_path), env=env)
        assert result.exit_code == 0, result.output
        wrong = camctl(
            "apply",
            docs,
            *against(emu, tmp_path),
            env={
                **env,
                "CAMCTL_MEDIAMTX_PASSWORD_FILE": "",
                "CAMCTL_MEDIAMTX_PASSWORD": PASSWORD + "x",
            },
        )
        assert wrong.exit_code == 1
        for out in (denied.output, result.output, wrong.output):
            assert PASSWORD not in out


def test_apply_of_many_streams_makes_one_call_per_change(
    emulator: MediaMTXEmulator, tmp_path: Path
) -> None:
    """Cold apply: writes equal changes, reads are only list pages; converged: no writes."""
    n = 150
    docs, devices = tmp_path / "many.yaml", tmp_path / "devices.yaml"
    header = "---\napiVersion: camctl.dev/v1alpha1\n"
    docs.write_text(
        "".join(
            f"{header}kind: Camera\nmetadata: {{name: c{i}}}\nspec: {{match: {{serial: S{i}}}}}\n"
            f"{header}kind: Stream\nmetadata: {{name: c{i}}}\nspec: {{camera: c{i}}}\n"
            for i in range(n)
        )
    )
    devices.write_text(
        "devices:\n" + "".join(f"  - {{node: /dev/video{2 * i}, serial: S{i}}}\n" for i in range(n))
    )
    assert emulator.url
    args = [
        "apply",
        docs,
        "--mediamtx",
        emulator.url,
        "--simulate-devices",
        devices,
        "--state-dir",
        tmp_path / "s",
    ]
    assert camctl(*args).exit_code == 0
    methods = [m for m, _, _ in emulator.requests]
    assert methods.count("POST") == n and len(methods) == n + 2  # one page each of two lists
    emulator.requests.clear()
    assert camctl(*args).exit_code == 0
    assert [m for m, _, _ in emulator.requests] == ["GET"] * 2  # one page of each list
