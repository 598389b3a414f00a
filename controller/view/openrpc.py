"""The OpenRPC document of the view, generated from the same models that check the params.

`rpc.discover` returns it. It lists exactly the methods the dispatcher serves (itself
included), each parameter by name with its JSON Schema, and each result's schema; shared
schemas live under components/schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from controller import __version__
from controller.view import errors
from controller.view.models import EventNotification
from controller.view.rpc import Method

REF = "#/components/schemas/{model}"
OPENRPC_VERSION = "1.3.2"


def document(methods: Sequence[Method]) -> dict[str, Any]:
    """The OpenRPC document for `methods` (which should include rpc.discover)."""
    models = _models(methods)
    keys, defs = models_json_schema(models, ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "camctl view",
            "version": __version__,
            "description": "Read-only JSON-RPC 2.0 view of camctl: POST /rpc (batches too), "
            "WebSocket /rpc/ws (subscriptions) and /ws (the old camera service's path).",
        },
        "servers": [{"name": "view", "url": "/rpc"}],
        "methods": [_method(m, keys, schemas) for m in methods],
        "components": {"schemas": schemas, "errors": _errors()},
        "x-notifications": {
            "events.event": _schema(EventNotification, "serialization", keys),
            "camera_status_update": {"type": "object"},
            "recording_status_update": {"type": "object"},
        },
    }


def _models(methods: Sequence[Method]) -> list[tuple[type[BaseModel], Any]]:
    seen: list[tuple[type[BaseModel], Any]] = [(EventNotification, "serialization")]
    for m in methods:
        seen.append((m.params, "validation"))
        if isinstance(m.result, type) and issubclass(m.result, BaseModel):
            seen.append((m.result, "serialization"))
    return list(dict.fromkeys(seen))


def _schema(model: type[BaseModel], mode: str, keys: dict[Any, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = keys[(model, mode)]
    return schema


def _method(method: Method, keys: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    target = keys[(method.params, "validation")]
    if "$ref" in target:  # the object's own schema, to list its properties by name
        target = schemas[target["$ref"].rsplit("/", 1)[-1]]
    required = set(target.get("required", []))
    out: dict[str, Any] = {
        "name": method.name,
        "summary": method.summary,
        "tags": [{"name": method.tag}],
        "paramStructure": "by-name",
        "params": [
            {"name": name, "required": name in required, "schema": schema}
            for name, schema in target.get("properties", {}).items()
        ],
        "result": {"name": "result", "schema": _result_schema(method.result, keys, schemas)},
    }
    if method.errors:
        out["errors"] = [{"$ref": f"#/components/errors/{code}"} for code in method.errors]
    return out


def _result_schema(result: Any, keys: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    if result is None:
        return {"not": {}, "description": "never succeeds: always an error"}
    if isinstance(result, type) and issubclass(result, BaseModel):
        return _schema(result, "serialization", keys)
    schema: dict[str, Any] = TypeAdapter(result).json_schema(ref_template=REF, mode="serialization")
    schemas.update(schema.pop("$defs", {}))  # shared with the other methods' schemas
    return schema


def _errors() -> dict[str, Any]:
    described = {
        errors.INVALID_PARAMS: "Invalid params: the field at fault is in data",
        errors.NEEDS_WEBSOCKET: "Needs the WebSocket transport",
        errors.UNAUTHORIZED: "Authentication required or failed",
        errors.LIMIT_EXCEEDED: "A limit was exceeded (subscriptions)",
        errors.READ_ONLY: "The view is read-only: declare the state instead",
        errors.NOT_FOUND: "No such resource",
        errors.CAMERA_NOT_FOUND: "Camera not found (old camera service)",
        errors.FILE_NOT_FOUND: "File not found (old camera service)",
    }
    return {str(code): {"code": code, "message": text} for code, text in described.items()}
