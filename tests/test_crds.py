"""The CRDs: generated from the models, structural, current, and as strict as the loader.

Kubernetes is not here, so the API server's side is emulated: the openAPIV3Schema is read
as JSON Schema (jsonschema), with `nullable` allowing null and unknown fields refused, as
`kubectl apply`'s strict field validation (the default since kubectl 1.27) refuses them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from controller.api.crd import COLUMNS, crd_name, crds, render_all
from controller.api.kinds import GROUP, KINDS, PLURALS, SHORT_NAMES, VERSION
from controller.cli import main
from controller.sources.files import load

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "crds"
EXAMPLES = ROOT / "examples" / "gitops"
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "const", "default", "title"}


def schema_of(kind: str) -> dict[str, Any]:
    crd = next(c for c in crds() if c["spec"]["names"]["kind"] == kind)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def as_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """What the API server enforces, in JSON Schema: nullable, and no unknown fields."""
    out = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-")}
    out.pop("nullable", None)
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if "properties" in node:
        out["properties"] = {k: as_json_schema(v) for k, v in node["properties"].items()}
        if node["properties"] and node is not node["properties"].get("metadata"):
            out["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = as_json_schema(node["additionalProperties"])
    if "items" in node:
        out["items"] = as_json_schema(node["items"])
    return out


def validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(as_json_schema(schema_of(kind)))


def walk(node: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield where, node
    for key, child in node.get("properties", {}).items():
        yield from walk(child, f"{where}.{key}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{where}.*")
    if "items" in node:
        yield from walk(node["items"], f"{where}[]")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d]


# --- Generated and current -----------------------------------------------------------


def test_crds_directory_is_what_camctl_crds_writes(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["crds", "-d", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    generated = {p.name: p.read_text() for p in tmp_path.glob("*.yaml")}
    committed = {p.name: p.read_text() for p in CRDS.glob("*.yaml")}
    assert sorted(generated) == sorted(committed), "crds/ has missing or extra files"
    for name, text in generated.items():
        assert committed[name] == text, f"crds/{name} is stale: run `camctl crds -d crds/`"


def test_camctl_crds_prints_all_three_for_kubectl_apply() -> None:
    result = CliRunner().invoke(main, ["crds"], catch_exceptions=False)
    assert result.output == render_all()
    printed = list(YAML(typ="safe").load_all(result.output))
    assert [d["metadata"]["name"] for d in printed] == [crd_name(k) for k in KINDS]
    assert printed == crds()


# --- The shape Kubernetes wants ------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_names_scope_subresource_and_columns(kind: str) -> None:
    crd = next(c for c in crds() if c["spec"]["names"]["kind"] == kind)
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{PLURALS[kind]}.{GROUP}"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["plural"] == PLURALS[kind]
    assert spec["names"]["shortNames"] == [SHORT_NAMES[kind]]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
    assert version["subresources"] == {"status": {}}
    columns = version["additionalPrinterColumns"]
    assert [c["name"].upper() for c in columns if not c.get("priority")] == {
        "Camera": ["READY", "NODE", "DEVICE", "AGE"],
        "Stream": ["READY", "PATH", "URL", "HEALTHY", "RESTARTS", "AGE"],
        "Recording": ["READY", "STREAM", "RECORDING", "SEGMENTS", "AGE"],
    }[kind]


@pytest.mark.parametrize("kind", list(KINDS))
def test_printer_columns_point_at_fields_of_the_schema(kind: str) -> None:
    schema = schema_of(kind)
    for column in COLUMNS[kind]:
        node = schema
        path = re.sub(r"\[\?\(@\.type==\"\w+\"\)\]", "[]", column["jsonPath"])
        for part in filter(None, re.split(r"\.|(?=\[\])", path)):
            node = node["items"] if part == "[]" else node["properties"][part]
        assert node["type"] in ("string", "integer"), column


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_is_structural(kind: str) -> None:
    for where, node in walk(schema_of(kind)):
        assert not FORBIDDEN & set(node), f"{kind}{where}: {FORBIDDEN & set(node)}"
        assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}
        assert not ("properties" in node and "additionalProperties" in node), where
        assert "x-kubernetes-preserve-unknown-fields" not in node, f"{kind}{where}"
        if node.get("x-kubernetes-list-type") == "map":
            assert set(node["x-kubernetes-list-map-keys"]) <= set(node["items"]["required"])
    metadata = schema_of(kind)["properties"]["metadata"]
    assert metadata == {"type": "object"}  # Kubernetes validates metadata itself


def test_optional_fields_are_nullable_not_unions() -> None:
    match = schema_of("Camera")["properties"]["spec"]["properties"]["match"]
    assert match["properties"]["serial"] == {
        "type": "string",
        "nullable": True,
        "description": "ID_SERIAL_SHORT",
        "maxLength": 128,
    }
    conditions = schema_of("Stream")["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"


def test_defaults_are_described_not_applied_by_the_api_server() -> None:
    video = schema_of("Stream")["properties"]["spec"]["properties"]["video"]["properties"]
    assert "default" not in video["bitrate"]
    assert video["bitrate"]["description"].endswith("(default: 2M)")
    # Left out, the mode is the camera's best: the API server must not fill in a number.
    assert "default" not in video["fps"] and "best mode" in video["fps"]["description"]


# --- As strict as the file loader ----------------------------------------------------


NETWORK_EXAMPLES = ROOT / "examples" / "network"


@pytest.mark.parametrize(
    "path",
    sorted([*EXAMPLES.glob("*.yaml"), *NETWORK_EXAMPLES.glob("*.yaml")]),
    ids=lambda p: p.name,
)
def test_every_example_document_is_valid(path: Path) -> None:
    for document in documents(path):
        errors = list(validator(document["kind"]).iter_errors(document))
        assert errors == [], [e.message for e in errors]


BASE = {
    "Camera": {"match": {"serial": "S1"}},
    "Stream": {"camera": "cam", "video": {"fps": 30}},
    "Recording": {"stream": "cam", "segmentDuration": "1h", "retention": "7d"},
}
# (kind, dotted field, value; None deletes): the loader refuses each, and so does the schema.
SCHEMA_REFUSES = [
    ("Camera", "spec.match.vendorId", "zz12"),
    ("Camera", "spec.match.device", "video0"),
    ("Camera", "spec.match", {}),
    ("Camera", "spec.colour", "red"),
    ("Camera", "spec.node", ["edge-01"]),
    ("Camera", "spec", None),
    ("Stream", "spec.camera", "Front_Door"),
    ("Stream", "spec.camera", None),
    ("Stream", "spec.mode", "sometimes"),
    ("Stream", "spec.deviceLink", "usb"),
    ("Stream", "spec.path", "/cams/front"),
    ("Stream", "spec.path", "cams//front"),
    ("Stream", "spec.path", "cams/front door"),
    ("Stream", "spec.video.fps", 0),
    ("Stream", "spec.video.width", "wide"),
    ("Stream", "spec.video.input", "rgb24"),
    ("Stream", "spec.video.bitrate", "fast"),
    ("Stream", "spec.video.keyframeInterval", 0),
    ("Stream", "spec.video.colour", "red"),
    ("Recording", "spec.format", "mkv"),
    ("Recording", "spec.segmentDuration", "1x"),
    ("Recording", "spec.retention", 7),
    ("Recording", "spec.path", "/recordings/%Y-%m-%d"),
    ("Recording", "spec.stream", None),
    ("Camera", "spec.url", "rtsp://admin:s3cr3t@192.0.2.10/x"),
    ("Camera", "spec.url", "ftp://192.0.2.10/x"),
    ("Camera", "spec.transport", "quic"),
    ("Camera", "spec.credentials.secretRef.name", "Gate_Camera"),
]
# Rules across fields, or beyond what OpenAPI says: the loader refuses these, the API server
# accepts them, and camctl reports them in the resource's status (InvalidSpec).
SCHEMA_ACCEPTS = [
    ("Stream", "spec.video", {"input": "mjpeg", "codec": "copy"}),
    ("Stream", "spec.video", {"width": 1281, "codec": "h264"}),
    ("Stream", "spec.path", "all"),
    ("Stream", "spec.path", "cams/../x"),
    ("Recording", "spec.retention", "30m"),
    ("Recording", "spec.segmentDuration", "2d"),
    ("Recording", "spec.partDuration", "2h"),
    ("Camera", "spec.match", None),  # neither match nor url
    ("Camera", "spec.url", "rtsp://192.0.2.10/x"),  # both match and url
    ("Camera", "spec.transport", "tcp"),  # for a network camera only
    ("Camera", "spec.credentials", {"file": "a.yaml", "secretRef": {"name": "a"}}),
]


def document(kind: str, field: str, value: Any) -> dict[str, Any]:
    doc = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": "cam"},
        "spec": copy.deepcopy(BASE[kind]),
    }
    *parents, last = field.split(".")
    node: Any = doc
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return doc


def loader_fields(tmp_path: Path, doc: dict[str, Any]) -> list[str]:
    path = tmp_path / "doc.yaml"
    with path.open("w") as out:
        YAML().dump(doc, out)
    return [e.field for e in load([path]).errors]


def schema_paths(doc: dict[str, Any]) -> list[str]:
    paths = []
    for error in validator(doc["kind"]).iter_errors(doc):
        where = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "additionalProperties":
            (extra,) = re.findall(r"'(\w+)' was unexpected", error.message)
            where = f"{where}.{extra}".lstrip(".")
        elif error.validator == "required":
            (missing,) = re.findall(r"'(\w+)' is a required property", error.message)
            where = f"{where}.{missing}".lstrip(".")
        paths.append(where)
    return paths


@pytest.mark.parametrize(("kind", "field", "value"), SCHEMA_REFUSES)
def test_schema_refuses_what_the_loader_refuses_at_the_same_field(
    tmp_path: Path, kind: str, field: str, value: Any
) -> None:
    doc = document(kind, field, value)
    (where,) = loader_fields(tmp_path, doc)  # the field, or the object whose rule it breaks
    assert field == where or field.startswith(f"{where}.")
    assert schema_paths(doc) == [field]


@pytest.mark.parametrize(("kind", "field", "value"), SCHEMA_ACCEPTS)
def test_rules_beyond_the_schema_are_left_to_camctl(
    tmp_path: Path, kind: str, field: str, value: Any
) -> None:
    doc = document(kind, field, value)
    assert loader_fields(tmp_path, doc) != []
    assert schema_paths(doc) == []
