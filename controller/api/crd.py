"""CustomResourceDefinitions for Camera, Stream and Recording, generated from the models.

The pydantic models are the one source of truth: the JSON Schema pydantic derives from
them is rewritten into the *structural* OpenAPI v3 schema Kubernetes requires (no `$ref`,
no `anyOf` with null but `nullable`, no `additionalProperties: false` beside `properties`),
so a document that loads from a file is accepted by `kubectl apply`, and the other way
round. Defaults stay out of the schema (camctl applies them when it reads a resource, as
it does for files), so the API server stores exactly what was applied; they are named in
the descriptions for `kubectl explain`. `camctl crds` prints or writes what this returns.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML

from controller.api.kinds import API_VERSION, GROUP, KINDS, PLURALS, SHORT_NAMES, VERSION

CATEGORY = "camctl"
DESCRIPTIONS = {
    "Camera": "A V4L2 camera, found by the facts udev knows about it (spec.match), "
    "owned by the camctl of one node (spec.node).",
    "Stream": "How a Camera is published on MediaMTX: the path, when ffmpeg runs, "
    "and how video is encoded.",
    "Recording": "Which Stream MediaMTX keeps on disk, in which format, and for how long.",
}


def _condition(type_: str) -> str:
    return f'.status.conditions[?(@.type=="{type_}")].status'


READY = '.status.conditions[?(@.type=="Ready")]'
# Columns for `kubectl get`; priority 1 shows only with `-o wide`.
COLUMNS: dict[str, list[dict[str, Any]]] = {
    "Camera": [
        {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
        {"name": "Node", "type": "string", "jsonPath": ".spec.node"},
        {"name": "Device", "type": "string", "jsonPath": ".status.device.node"},
        {"name": "Product", "type": "string", "jsonPath": ".status.device.product", "priority": 1},
    ],
    "Stream": [
        {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
        {"name": "Path", "type": "string", "jsonPath": ".status.path"},
        {"name": "URL", "type": "string", "jsonPath": ".status.urls.rtsp"},
        {"name": "Healthy", "type": "string", "jsonPath": _condition("Healthy")},
        {"name": "Restarts", "type": "integer", "jsonPath": ".status.restarts"},
        {"name": "Camera", "type": "string", "jsonPath": ".spec.camera", "priority": 1},
        {"name": "Readers", "type": "integer", "jsonPath": ".status.readers", "priority": 1},
    ],
    "Recording": [
        {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
        {"name": "Stream", "type": "string", "jsonPath": ".spec.stream"},
        {"name": "Recording", "type": "string", "jsonPath": _condition("Recording")},
        {"name": "Segments", "type": "integer", "jsonPath": ".status.segments.count"},
        {"name": "Disk Low", "type": "string", "jsonPath": _condition("DiskLow"), "priority": 1},
        {"name": "Retention", "type": "string", "jsonPath": ".spec.retention", "priority": 1},
    ],
}
COMMON_COLUMNS = [
    {"name": "Reason", "type": "string", "jsonPath": f"{READY}.reason", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
# Keywords a structural schema may carry, in the order they are written; anything else
# pydantic emits is dropped (DROPPED) or fails the generation (SchemaError).
ORDER = (
    "type",
    "format",
    "nullable",
    "description",
    "enum",
    "pattern",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "required",
)
KEPT = frozenset(ORDER)
DROPPED = frozenset({"title", "examples", "default", "additionalProperties"})
# Rules of the models' validators that a structural schema can still say, so that
# `kubectl apply` refuses them too. The rest (e.g. "codec: copy needs input: h264",
# "retention at least segmentDuration") is checked when camctl reads the resource, and
# reported in its status as InvalidSpec. tests/test_crds.py holds both lists.
REFINEMENTS: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {
    "Camera": {("spec", "match"): {"minProperties": 1}},
    "Stream": {("spec", "path"): {"pattern": r"^[0-9A-Za-z_.-]+(/[0-9A-Za-z_.-]+)*$"}},
}


class SchemaError(ValueError):
    """The models produced a construct a structural schema cannot express."""


def crd_name(kind: str) -> str:
    return f"{PLURALS[kind]}.{GROUP}"


def crds() -> list[dict[str, Any]]:
    """The three CustomResourceDefinitions, in the order they should be applied."""
    return [crd(kind) for kind in KINDS]


def crd(kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": crd_name(kind),
            "labels": {"app.kubernetes.io/name": "camctl", "app.kubernetes.io/part-of": "camctl"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": PLURALS[kind],
                "singular": kind.lower(),
                "shortNames": [SHORT_NAMES[kind]],
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": resource_schema(kind)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": COLUMNS[kind] + COMMON_COLUMNS,
                }
            ],
        },
    }


def resource_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of one kind: spec and status from the models, the rest Kubernetes'."""
    source = KINDS[kind].model_json_schema(by_alias=True, mode="validation")
    defs = source.get("$defs", {})
    properties = source["properties"]
    schema = {
        "type": "object",
        "description": DESCRIPTIONS[kind],
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION},
            "kind": {"type": "string", "description": kind},
            "metadata": {"type": "object"},
            "spec": structural(properties["spec"], defs),
            "status": _status(structural(properties["status"], defs)),
        },
    }
    for path, rules in REFINEMENTS.get(kind, {}).items():
        _at(schema, path).update(rules)
    return schema


def _at(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        schema = schema["properties"][key]
    return schema


def _status(schema: dict[str, Any]) -> dict[str, Any]:
    """Status is written by camctl only; conditions are a map keyed by type (for SSA)."""
    conditions = schema["properties"].get("conditions")
    if conditions is not None:
        conditions["x-kubernetes-list-type"] = "map"
        conditions["x-kubernetes-list-map-keys"] = ["type"]
    rest = {k: v for k, v in schema.items() if k not in ("type", "nullable", "description")}
    return {"type": "object", "description": "Written by camctl; never edit.", **rest}


def structural(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """One pydantic JSON Schema node as a structural OpenAPI v3 schema node."""
    node = _resolve(node, defs)
    if "anyOf" in node:
        return _nullable(node, defs)
    unknown = set(node) - KEPT - DROPPED - {"properties", "items"}
    if unknown:
        raise SchemaError(f"cannot express {sorted(unknown)} in a structural schema: {node}")
    if "type" not in node:
        raise SchemaError(f"every node of a structural schema needs a type: {node}")
    if node.get("default") not in (None, "", [], {}):
        text = node.get("description", "").rstrip(".")
        node["description"] = f"{text} (default: {_plain(node['default'])})".lstrip(" ")
    out = {key: node[key] for key in ORDER if key in node}
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if not isinstance(out.get(bound, True), bool):  # JSON Schema's number, OpenAPI's flag
            out[limit], out[bound] = out[bound], True
    if "properties" in node:
        out["properties"] = {k: structural(v, defs) for k, v in node["properties"].items()}
    elif isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs)
    if "items" in node:
        out["items"] = structural(node["items"], defs)
    return out


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """Inline a `$ref` (pydantic puts a field's description beside it)."""
    if "$ref" not in node:
        return dict(node)
    name = node["$ref"].removeprefix("#/$defs/")
    merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return _resolve(merged, defs)


def _nullable(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """`X | None` (anyOf X, null) becomes X with `nullable: true`; other unions fail."""
    options = [o for o in node["anyOf"] if o.get("type") != "null"]
    if len(options) != 1 or len(options) == len(node["anyOf"]):
        raise SchemaError(f"only `X | None` unions fit a structural schema: {node}")
    siblings = {k: v for k, v in node.items() if k != "anyOf"}
    inner = structural({**options[0], **siblings}, defs)
    return {"type": inner.pop("type"), "nullable": True, **inner}


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


# --- Output --------------------------------------------------------------------------

HEADER = "# Generated by `camctl crds` from controller/api/kinds.py; do not edit.\n"


def dump(document: Mapping[str, Any]) -> str:
    """One CRD as YAML, keys in the order built (stable, so diffs stay readable)."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096  # long patterns and descriptions on one line
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(dict(document), out)
    return out.getvalue()


def render_all() -> str:
    """Every CRD in one multi-document YAML stream, for `kubectl apply -f -`."""
    return HEADER + "---\n".join(dump(d) for d in crds())


def files() -> dict[str, str]:
    """One file per CRD, by name (`cameras.camctl.dev.yaml`, …): the text of each."""
    return {f"{d['metadata']['name']}.yaml": HEADER + dump(d) for d in crds()}
