"""Network cameras: their documents, their credential files, rendering, the MediaMTX contract
and the planner's rules (credentials never in a document, never a reason to delete; status
from MediaMTX's runtime state of the path)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openapi_contract import request_problems

from controller.api.credentials import Credentials, Resolved, Unavailable
from controller.api.desired import Desired, assemble
from controller.api.kinds import Camera, CameraStatus, Ref, Stream, parse_resource
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.api.units import normalize_duration
from controller.observe.credentials import MAX_BYTES, CredentialFiles
from controller.reconcile.plan import Action, Plan, plan
from controller.reconcile.render import (
    DURATION_FIELDS,
    network_command,
    network_path_config,
    path_config,
    source_url,
)
from controller.sources.files import load

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = Settings(node_name="edge-01")
URL = "rtsp://192.0.2.10:554/h264/ch1/main"
GATE = Ref("Camera", "default", "gate")
GATE_STREAM = Ref("Stream", "default", "gate")
PASSWORD = "pa:ss@w/rd%"
CREDENTIALS = Credentials("admin", PASSWORD)
WITH_CREDENTIALS = "rtsp://admin:pa%3Ass%40w%2Frd%25@192.0.2.10:554/h264/ch1/main"


def doc(kind: str, name: str, **spec: Any) -> Any:
    meta = {"name": name}
    return parse_resource(
        {"apiVersion": "camctl.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}
    )


def gate(**spec: Any) -> Camera:
    spec = {"url": URL, "credentials": {"file": "gate.yaml"}, **spec}
    camera = doc("Camera", "gate", **{k: v for k, v in spec.items() if v is not None})
    assert isinstance(camera, Camera)
    return camera


def gate_stream(**spec: Any) -> Stream:
    stream = doc("Stream", "gate", camera="gate", path="cams/gate", **spec)
    assert isinstance(stream, Stream)
    return stream


# --- documents ---------------------------------------------------------------------------


def camera_errors(tmp_path: Path, spec: str) -> list[str]:
    path = tmp_path / "gate.yaml"
    header = "apiVersion: camctl.dev/v1alpha1\nkind: Camera\nmetadata: {name: gate}\nspec:\n"
    path.write_text(header + spec)
    return [str(e).replace(f"{path}:", "") for e in load([path]).errors]


def test_a_camera_is_a_device_or_a_url_never_both(tmp_path: Path) -> None:
    both = "  match: {serial: S1}\n  url: rtsp://192.0.2.10/x\n"
    assert camera_errors(tmp_path, both) == [
        "6:3: Camera/gate: spec.url: give spec.match (a V4L2 camera) or spec.url "
        "(a network one), not both"
    ]
    assert camera_errors(tmp_path, "  node: edge-01\n") == [
        "4:1: Camera/gate: spec: give spec.match (a V4L2 camera) or spec.url (a network camera)"
    ]
    assert camera_errors(tmp_path, "  url: rtsp://192.0.2.10/x\n") == []


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("  url: rtsp://admin:hunter2@192.0.2.10/x\n", "5:3: Camera/gate: spec.url: credentials "
         "do not belong in the URL: use spec.credentials"),
        ("  url: srt://192.0.2.10:9000?passphrase=hunter2hunter2\n", "5:3: Camera/gate: spec.url:"
         " secrets do not belong in the URL: use spec.credentials"),
        ("  url: ftp://192.0.2.10/x\n", "5:3: Camera/gate: spec.url: the scheme must be one of "
         "rtsp, rtsps, rtmp, rtmps, srt, http, https"),
        ("  url: rtsp://192.0.2.10/$G1\n", "5:3: Camera/gate: spec.url: must not contain $ "
         "(MediaMTX expands $VARIABLES in it)"),
        ("  url: http://192.0.2.10/x.m3u8\n  transport: tcp\n", "6:3: Camera/gate: "
         "spec.transport: a transport other than automatic is for rtsp:// and rtsps:// only"),
        ("  match: {serial: S1}\n  credentials: {file: a.yaml}\n", "6:3: Camera/gate: "
         "spec.credentials: credentials are for a network camera (spec.url)"),
        ("  url: rtsp://192.0.2.10/x\n  credentials: {file: a.yaml, secretRef: {name: a}}\n",
         "6:3: Camera/gate: spec.credentials: give one of file or secretRef"),
    ],
)  # fmt: skip
def test_the_loader_says_what_is_wrong_and_never_echoes_a_secret(
    tmp_path: Path, spec: str, error: str
) -> None:
    errors = camera_errors(tmp_path, spec)
    assert errors == [error]
    assert "hunter2" not in " ".join(errors)


def test_every_scheme_mediamtx_pulls_is_accepted(tmp_path: Path) -> None:
    for url in (
        "rtsp://192.0.2.10:554/x",
        "rtsps://cam.example/x",
        "rtmp://192.0.2.10/live/x",
        "rtmps://192.0.2.10/live/x",
        "srt://192.0.2.10:9000?streamid=read:x",
        "http://192.0.2.10/mjpeg",
        "https://cam.example/index.m3u8",
        "rtsp://[2001:db8::10]:554/x",
    ):
        assert camera_errors(tmp_path, f"  url: '{url}'\n") == [], url


# --- credential files ---------------------------------------------------------------------


def credential_files(tmp_path: Path) -> tuple[CredentialFiles, Path]:
    root = tmp_path / "credentials"
    root.mkdir(exist_ok=True)
    return CredentialFiles([str(root)]), root


def test_a_credentials_file_is_read_from_under_the_roots(tmp_path: Path) -> None:
    files, root = credential_files(tmp_path)
    (root / "gate.yaml").write_text(f"username: admin\npassword: '{PASSWORD}'\n")
    assert files.read({GATE: gate()}) == {GATE: CREDENTIALS}
    absolute = gate(credentials={"file": str(root / "gate.yaml")})
    assert files.read({GATE: absolute}) == {GATE: CREDENTIALS}
    assert repr(CREDENTIALS) == "Credentials(username='admin')"


def test_a_credentials_file_is_read_again_only_when_it_changed(tmp_path: Path) -> None:
    files, root = credential_files(tmp_path)
    path = root / "gate.yaml"
    path.write_text("username: admin\npassword: first\n")
    assert files.read({GATE: gate()})[GATE] == Credentials("admin", "first")
    reads = []
    original = os.open

    def counting(file: Any, *args: Any, **kw: Any) -> int:
        reads.append(file)
        return original(file, *args, **kw)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(os, "open", counting)
        files.read({GATE: gate()})
        assert reads == []  # unchanged: not read again
        # Rotated as Kubernetes rotates a Secret volume: a new file swapped in.
        (root / "new.yaml").write_text("username: admin\npassword: second\n")
        os.replace(root / "new.yaml", path)
        assert files.read({GATE: gate()})[GATE] == Credentials("admin", "second")
        assert [str(r) for r in reads] == [str(path)]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "credentials file gate.yaml: No such file or directory"),
        ("password: s3cr3t\n", None),
        ("username: admin\n", "credentials file gate.yaml: no password"),
        ("username: admin\npassword: 12345\n", "credentials file gate.yaml: password must be "
         "text (quote it)"),
        ("username: admin\npassword: ''\n", "credentials file gate.yaml: the password is empty"),
        ("username: admin\npassword: s3cr3t\nrealm: x\n", "credentials file gate.yaml: unknown "
         "keys: realm (only username, password)"),
        ("username: admin\npassword: s3cr3t: oops\n", "credentials file gate.yaml: not valid "
         "YAML (line 2, column 17)"),
        ("- s3cr3t\n", "credentials file gate.yaml: must hold a mapping with username and "
         "password"),
        ("password: s3cr3t\n" + "#" * MAX_BYTES, "credentials file gate.yaml: larger than the "
         "limit of 4096 bytes"),
    ],
)  # fmt: skip
def test_what_is_wrong_with_a_credentials_file_is_said_without_its_content(
    tmp_path: Path, content: str | None, problem: str | None
) -> None:
    files, root = credential_files(tmp_path)
    if content is not None:
        (root / "gate.yaml").write_text(content)
    found = files.read({GATE: gate()})[GATE]
    if problem is None:
        assert found == Credentials("", "s3cr3t")
    else:
        assert found == Unavailable(problem)
        assert "s3cr3t" not in problem


def test_credentials_outside_the_roots_are_never_read(tmp_path: Path) -> None:
    files, root = credential_files(tmp_path)
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("username: a\npassword: b\n")
    (root / "link.yaml").symlink_to(outside)
    fifo = root / "fifo.yaml"
    os.mkfifo(fifo)
    for name in (str(outside), "link.yaml", "../elsewhere.yaml"):
        found = files.read({GATE: gate(credentials={"file": name})})[GATE]
        assert isinstance(found, Unavailable) and "outside the credentials roots" in found.message
    found = files.read({GATE: gate(credentials={"file": "fifo.yaml"})})[GATE]
    assert found == Unavailable("credentials file fifo.yaml: not a regular file: a FIFO")


# --- rendering and the MediaMTX contract --------------------------------------------------


def test_credentials_go_into_the_url_percent_encoded() -> None:
    assert source_url(URL, CREDENTIALS) == WITH_CREDENTIALS
    assert source_url(URL, None) == URL
    srt = source_url("srt://192.0.2.10:9000?streamid=read:x", Credentials("", "0123456789ab"))
    assert srt == "srt://192.0.2.10:9000?streamid=read:x&passphrase=0123456789ab"


@pytest.mark.parametrize("transport", ["automatic", "tcp", "udp", "multicast"])
@pytest.mark.parametrize("mode", ["always", "onDemand"])
def test_a_passed_through_camera_is_mediamtx_s_own_source(transport: str, mode: str) -> None:
    conf = network_path_config(
        gate_stream(mode=mode), gate(transport=transport), WITH_CREDENTIALS, None, None
    )
    assert conf["source"] == WITH_CREDENTIALS
    assert conf["sourceOnDemand"] is (mode == "onDemand")
    assert conf["rtspTransport"] == transport
    assert conf["runOnInit"] == conf["runOnDemand"] == ""
    assert request_problems("POST", "/v3/config/paths/add/cams/gate", conf) == []


@pytest.mark.parametrize("mode", ["always", "onDemand"])
def test_a_transcoded_camera_is_published_by_an_ffmpeg_that_pulls_it(mode: str) -> None:
    video = {"width": 640, "fps": 10, "bitrate": "800k"}
    stream = gate_stream(mode=mode, video=video)
    conf = network_path_config(stream, gate(transport="tcp"), WITH_CREDENTIALS, None, None)
    command = conf["runOnInit"] or conf["runOnDemand"]
    assert conf["source"] == "publisher" and conf["sourceOnDemand"] is False
    args = shlex.split(command)
    assert args[args.index("-i") + 1] == WITH_CREDENTIALS
    assert args[args.index("-rtsp_transport") + 1] == "tcp"
    assert args[args.index("-vf") + 1] == "scale=640:-2" and args[args.index("-r") + 1] == "10"
    assert args[args.index("-b:v") + 1] == "800000"
    assert args[-3:] == ["-f", "rtsp", "rtsp://localhost:$RTSP_PORT/$MTX_PATH"]
    assert request_problems("POST", "/v3/config/paths/add/cams/gate", conf) == []


def test_what_video_does_not_name_is_the_camera_s_own() -> None:
    assert stream_args({"bitrate": "1M"}).count("-vf") == 0
    assert "-r" not in stream_args({"bitrate": "1M"})
    assert "scale=-2:480" in stream_args({"height": 480})
    assert "scale=1280:720" in stream_args({"width": 1280, "height": 720})
    copy = stream_args({"input": "h264", "codec": "copy"})
    assert copy[copy.index("-c:v") + 1] == "copy" and "-vf" not in copy


def stream_args(video: dict[str, Any]) -> list[str]:
    spec = gate_stream(video=video).spec.video
    assert spec is not None
    return shlex.split(network_command(spec, "http://192.0.2.10/mjpeg", "automatic"))


def test_switching_between_kinds_of_camera_leaves_mediamtx_nothing_to_refuse() -> None:
    """A path pulled on demand has sourceOnDemand: true, which MediaMTX refuses beside a
    publisher: the V4L2 and transcoded configs set it back."""
    pulled = network_path_config(gate_stream(mode="onDemand"), gate(), WITH_CREDENTIALS, None, None)
    transcoded = network_path_config(
        gate_stream(video={"bitrate": "1M"}), gate(), WITH_CREDENTIALS, None, None
    )
    for conf in (path_config(gate_stream(), "/dev/video0", None, None), transcoded):
        merged = {**pulled, **conf}
        assert merged["sourceOnDemand"] is False and merged["source"] == "publisher"
        assert request_problems("PATCH", "/v3/config/paths/patch/cams/gate", conf) == []


# --- the planner --------------------------------------------------------------------------


def world(*resources: Any, clean: bool = True) -> Desired:
    snapshot, problems = assemble(((r, "gate.yaml") for r in resources), clean=clean)
    assert problems == []
    return snapshot


def run(
    desired: Desired,
    paths: Mapping[str, Any] | None,
    owned: Mapping[str, Owner],
    credentials: Mapping[Ref, Resolved] | None = None,
    runtime: Mapping[str, Any] | None = None,
    **kw: Any,
) -> Plan:
    creds = {GATE: CREDENTIALS} if credentials is None else credentials
    return plan(desired, [], paths, owned, SETTINGS, NOW, runtime=runtime, credentials=creds, **kw)


def as_mediamtx_reads(paths: Mapping[str, Any], actions: list[Action]) -> dict[str, Any]:
    """MediaMTX's paths after the actions, as it answers reads: sources as they were set."""
    state = {name: dict(conf) for name, conf in paths.items()}
    for action in actions:
        if action.op == "delete":
            del state[action.path]
            continue
        state.setdefault(action.path, {"name": action.path, "maxReaders": 0})
        state[action.path].update(
            {
                f: normalize_duration(v) if f in DURATION_FIELDS else v
                for f, v in action.config.items()
            }
        )
    return state


def ready(result: Plan, key: Ref) -> tuple[str, str]:
    status = result.statuses[key]
    cond = next(c for c in status.conditions if c.type == "Ready")
    return cond.status, cond.reason


WORLD = world(gate(), gate_stream())


def converged() -> tuple[dict[str, Any], dict[str, Owner]]:
    first = run(WORLD, {}, {})
    return as_mediamtx_reads({}, first.actions), first.inventory


def test_a_network_camera_is_added_with_its_credentials_and_then_left_alone() -> None:
    first = run(WORLD, {}, {})
    (action,) = first.actions
    assert action.op == "add" and action.config["source"] == WITH_CREDENTIALS
    paths, owned = converged()
    again = run(WORLD, paths, owned)
    assert again.actions == [] and again.converged  # MediaMTX returns the source as set
    assert ready(again, GATE_STREAM) == ("True", "PathConfigured")


def test_a_rotated_password_converges_the_path() -> None:
    paths, owned = converged()
    rotated = run(WORLD, paths, owned, {GATE: Credentials("admin", "n3w")})
    (action,) = rotated.actions
    assert action.op == "patch" and set(action.config) == {"source"}
    assert action.config["source"] == "rtsp://admin:n3w@192.0.2.10:554/h264/ch1/main"


@pytest.mark.parametrize(
    "credentials", [{}, {GATE: Unavailable("credentials file gate.yaml: no password")}]
)
def test_missing_credentials_write_nothing_and_remove_nothing(
    credentials: Mapping[Ref, Resolved],
) -> None:
    assert run(WORLD, {}, {}, credentials).actions == []
    paths, owned = converged()
    result = run(WORLD, paths, owned, credentials)
    assert result.actions == [] and result.withheld == [] and result.inventory == owned
    status, reason = ready(result, GATE)
    assert (status, reason) == ("False", "CredentialsUnavailable")
    assert ready(result, GATE_STREAM) == ("False", "CameraNotReady")
    # Not even a camera whose document went: a path it served is kept while it cannot be read.
    message = next(c.message for c in result.statuses[GATE].conditions if c.type == "Ready")
    assert message.startswith("its credentials" if not credentials else "credentials")


def test_an_open_camera_needs_no_credentials() -> None:
    open_world = world(gate(credentials=None), gate_stream())
    (action,) = run(open_world, {}, {}, {}).actions
    assert action.config["source"] == URL


def test_a_lost_state_directory_is_readopted_with_the_credentials_compared() -> None:
    paths, _ = converged()
    result = run(WORLD, paths, {})
    assert result.actions == [] and ready(result, GATE_STREAM) == ("True", "Readopted")
    other = run(WORLD, paths, {}, {GATE: Credentials("admin", "other")})
    assert ready(other, GATE_STREAM) == ("False", "PathConflict")


def runtime_of(ready_: bool, since: str = "2026-11-28T11:59:00Z") -> dict[str, Any]:
    return {
        "cams/gate": {"name": "cams/gate", "ready": ready_, "readyTime": since if ready_ else None}
    }


def test_the_camera_status_is_mediamtx_s_runtime_state_of_its_path() -> None:
    paths, owned = converged()
    connected = run(WORLD, paths, owned, runtime=runtime_of(True))
    assert ready(connected, GATE) == ("True", "Connected")
    status = connected.statuses[GATE]
    assert isinstance(status, CameraStatus) and status.source is not None
    assert status.source.connected is True and status.source.since == "2026-11-28T11:59:00Z"
    assert status.source.url == URL and status.source.path == "cams/gate"
    assert status.device is None

    lost = run(WORLD, paths, owned, runtime=runtime_of(False), previous=connected.statuses)
    assert ready(lost, GATE) == ("False", "Unreachable")
    status = lost.statuses[GATE]
    assert isinstance(status, CameraStatus) and status.source and not status.source.connected
    assert lost.actions == []  # nothing to fix in MediaMTX: it keeps trying

    just_added = run(WORLD, paths, owned, runtime={})
    assert ready(just_added, GATE) == ("Unknown", "Connecting")
    down = run(WORLD, None, owned)
    assert ready(down, GATE) == ("Unknown", "MediaMTXUnreachable")


def test_an_on_demand_camera_is_not_unreachable_while_nobody_reads_it() -> None:
    on_demand = world(gate(), gate_stream(mode="onDemand"))
    first = run(on_demand, {}, {})
    paths, owned = as_mediamtx_reads({}, first.actions), first.inventory
    idle = run(on_demand, paths, owned, runtime=runtime_of(False))
    assert ready(idle, GATE) == ("Unknown", "OnDemand")
    read = run(on_demand, paths, owned, runtime=runtime_of(True))
    assert ready(read, GATE) == ("True", "Connected")
    unused = run(world(gate()), {}, {})
    assert ready(unused, GATE) == ("Unknown", "Unused")


def test_recordings_work_the_same_for_network_cameras() -> None:
    recording = doc("Recording", "gate", stream="gate", retention="2d", root="/r")
    settings = Settings(node_name="edge-01", recordings_roots=("/r",))
    result = plan(
        world(gate(), gate_stream(), recording), [], {}, {}, settings, NOW,
        credentials={GATE: CREDENTIALS},
    )  # fmt: skip
    (action,) = result.actions
    assert action.config["record"] is True and action.config["recordDeleteAfter"] == "2d"
    assert action.config["recordPath"].startswith("/r/%path/")
    assert action.config["source"] == WITH_CREDENTIALS
