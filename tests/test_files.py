"""Loading documents from files: every error is one line naming file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from controller.api.kinds import Ref
from controller.kit.yamlfile import MAX_NODES
from controller.sources.files import MAX_FILE_BYTES, load

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "gitops"

CAMERA = """\
apiVersion: camctl.dev/v1alpha1
kind: Camera
metadata: {name: cam}
spec:
  match: {serial: "S1"}
"""
STREAM = """\
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {name: cam}
spec:
  camera: cam
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(*paths: Path) -> list[str]:
    return [str(e) for e in load(list(paths)).errors]


def test_examples_load_cleanly() -> None:
    result = load([EXAMPLES])
    assert result.errors == []
    assert len(result.desired.cameras) == 3
    assert len(result.desired.streams) == 3
    assert len(result.desired.recordings) == 2
    assert result.desired.clean


def test_error_line_names_file_line_column_resource_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        STREAM + "  video:\n    fps: 300\n    colour: red\n",
    )
    assert errors_of(path) == [
        f"{path}:7:5: Stream/cam: spec.video.fps: Input should be less than or equal to 240",
        f"{path}:8:5: Stream/cam: spec.video.colour: unknown field",
    ]


def test_all_errors_are_reported_not_just_the_first(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", STREAM.replace("camera: cam", "camera: 12x!"))
    b = write(tmp_path, "b.yaml", "kind: Stream\napiVersion: camctl.dev/v1\n")
    c = write(tmp_path, "c.yaml", "a: [1\n")
    errors = errors_of(tmp_path)
    assert any(
        e.startswith(f"{a}:5:3: Stream/cam: spec.camera: String should match") for e in errors
    )
    assert (
        f"{b}:2:1: Stream 1: apiVersion: must be camctl.dev/v1alpha1, not 'camctl.dev/v1'" in errors
    )
    assert any(e.startswith(f"{c}:2:1: invalid YAML") for e in errors)
    assert len(errors) == 3


def test_unknown_kind_and_non_mapping_documents(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "apiVersion: camctl.dev/v1alpha1\nkind: Lens\n---\n- 1\n---\n")
    assert errors_of(path) == [
        f"{path}:2:1: Lens 1: kind: must be one of Camera, Stream, Recording, not 'Lens'",
        f"{path}:4:1: document 2: must be a mapping",
    ]


def test_missing_required_field_points_at_the_parent(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", STREAM.replace("  camera: cam\n", "  mode: always\n"))
    assert errors_of(path) == [f"{path}:4:1: Stream/cam: spec.camera: Field required"]


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", CAMERA)
    second = write(tmp_path, "b.yaml", "# again\n" + CAMERA)
    errors = errors_of(tmp_path)
    assert errors == [
        f"{second}:4:12: Camera/cam: metadata.name: duplicate: declared at {tmp_path / 'a.yaml'}:1"
    ]


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", CAMERA + "spec: {}\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:") and "duplicate key" in error


@pytest.mark.parametrize(
    ("recording", "field", "message"),
    [
        ("retention: 30m", "spec", "retention must be at least segmentDuration"),
        ("segmentDuration: 25h", "spec", "segmentDuration must be more than 0 and at most 1 day"),
        ("root: srv/rec", "spec.root", "root must be an absolute directory"),
        ("root: /srv/../etc", "spec.root", "root must not contain '.' or '..' components"),
        ("root: /srv/%path", "spec.root", "root must not contain % (MediaMTX expands it)"),
        ("format: mkv", "spec.format", "Input should be 'fmp4' or 'mpegts'"),
        ("retention: 3 days", "spec.retention", "invalid duration '3 days'"),
    ],
)
def test_recording_rules_of_mediamtx(
    tmp_path: Path, recording: str, field: str, message: str
) -> None:
    text = (
        CAMERA
        + "---\n"
        + STREAM
        + "---\n"
        + textwrap.dedent(f"""\
        apiVersion: camctl.dev/v1alpha1
        kind: Recording
        metadata: {{name: cam}}
        spec:
          stream: cam
          {recording}
        """)
    )
    path = write(tmp_path, "r.yaml", text)
    (error,) = errors_of(path)
    assert f"Recording/cam: {field}: {message}" in error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (STREAM + "  path: /cams/x\n", "spec.path: Value error, path name '/cams/x' can't"),
        (STREAM + "  path: all_others\n", "reserved"),
        (STREAM + "  video: {codec: copy, input: mjpeg}\n", "codec: copy needs input: h264"),
        (STREAM + "  video: {width: 641}\n", "must be even"),
        (STREAM + "  video: {bitrate: fast}\n", "spec.video.bitrate"),
    ],
)
def test_stream_rules(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "s.yaml", CAMERA + "---\n" + text)
    (error,) = errors_of(path)
    assert message.replace("Value error, ", "") in error


def test_cross_references(tmp_path: Path) -> None:
    write(tmp_path, "cams.yaml", CAMERA)
    streams = write(
        tmp_path,
        "streams.yaml",
        STREAM
        + "  path: p\n---\n"
        + STREAM.replace("{name: cam}", "{name: two}")
        + "  path: p\n---\n"
        + STREAM.replace("{name: cam}", "{name: three}").replace("camera: cam", "camera: nope"),
    )
    recs = write(
        tmp_path,
        "recs.yaml",
        "apiVersion: camctl.dev/v1alpha1\nkind: Recording\nmetadata: {name: r1}\n"
        "spec: {stream: cam}\n---\n"
        "apiVersion: camctl.dev/v1alpha1\nkind: Recording\nmetadata: {name: r2}\n"
        "spec: {stream: cam}\n---\n"
        "apiVersion: camctl.dev/v1alpha1\nkind: Recording\nmetadata: {name: r3}\n"
        "spec: {stream: ghost}\n",
    )
    result = load([tmp_path])
    assert [str(e) for e in result.errors] == [
        f"{recs}:9:8: Recording/r2: spec.stream: Stream/cam is already recorded by Recording/r1",
        f"{recs}:14:8: Recording/r3: spec.stream: Stream/ghost is not declared",
        f"{streams}:13:3: Stream/two: spec.path: path 'p' is already used by Stream/cam",
        f"{streams}:19:3: Stream/three: spec.camera: Camera/nope is not declared",
    ]
    # Only what has a problem is left out; and an unclean state removes nothing.
    assert not result.desired.clean
    assert list(result.desired.cameras) == [Ref("Camera", "default", "cam")]
    assert list(result.desired.streams) == [Ref("Stream", "default", "cam")]
    assert list(result.desired.recordings) == [Ref("Recording", "default", "r1")]


def test_limits(tmp_path: Path) -> None:
    big = write(tmp_path, "big.yaml", "# " + "x" * MAX_FILE_BYTES + "\n")
    assert errors_of(big) == [f"{big}:1:1: larger than the limit of 1 MiB"]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for n in "bcdefgh":
        prev = chr(ord(n) - 1)
        bomb += f"{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    path = write(tmp_path, "bomb.yaml", "apiVersion: camctl.dev/v1alpha1\nkind: Camera\n" + bomb)
    assert errors_of(path) == [
        f"{path}:8:32: more than {MAX_NODES} values once aliases are expanded"
    ]


def test_hidden_entries_and_configmap_layout(tmp_path: Path) -> None:
    """A ConfigMap volume: files are links into a hidden ..data dir; each is read once."""
    data = tmp_path / "..2026_11_28"
    write(data, "cams.yaml", CAMERA)
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "cams.yaml").symlink_to("..data/cams.yaml")
    write(tmp_path, ".git/config.yaml", "not: [valid\n")
    result = load([tmp_path])
    assert result.errors == []
    assert result.files == [str(tmp_path / "cams.yaml")]
    assert len(result.desired.cameras) == 1


def test_namespaces_keep_names_apart(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        CAMERA + "---\n" + CAMERA.replace("{name: cam}", "{name: cam, namespace: lab}"),
    )
    result = load([tmp_path])
    assert result.errors == []
    assert str(sorted(result.desired.cameras)[1]) == "Camera/lab/cam"
