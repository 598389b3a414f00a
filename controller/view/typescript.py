"""client.d.ts, the JavaScript client's types, made from the view's OpenRPC document.

The answer and parameter shapes are the pydantic models of controller/view/models.py, so
the types are generated from them (through the OpenRPC document every client can fetch) and
cannot drift; only the client's own API (client_api.d.ts: the ViewClient class, its
options) is written by hand. `python -m controller.view.typescript` prints the file; a test
keeps controller/view/client.d.ts equal to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
HEADER = (
    "// Types of client.js, the camctl view's JavaScript client (served at /client.d.ts).\n"
    "// Made by `python -m controller.view.typescript` from the OpenRPC document: do not edit;\n"
    "// the client's own API is in client_api.d.ts.\n"
)
Schema = Mapping[str, Any]


def render(document: Mapping[str, Any]) -> str:
    """The whole of client.d.ts for an OpenRPC document."""
    schemas: Mapping[str, Schema] = document["components"]["schemas"]
    parts = [HEADER]
    parts += [_interface(name, schema) for name, schema in sorted(schemas.items())]
    parts.append((HERE / "client_api.d.ts").read_text(encoding="utf-8"))
    return "\n".join(parts)


def _interface(name: str, schema: Schema) -> str:
    doc = _comment(schema.get("description"), "")
    if schema.get("type") == "object" and "properties" in schema:
        return f"{doc}export interface {name} {_object(schema, '')}\n"
    return f"{doc}export type {name} = {_type(schema, '')};\n"


def _object(schema: Schema, indent: str) -> str:
    required = set(schema.get("required", []))
    inner = indent + "  "
    lines = ["{"]
    for field, sub in schema.get("properties", {}).items():
        optional = "" if field in required else "?"
        lines.append(_comment(sub.get("description"), inner).rstrip("\n"))
        lines.append(f"{inner}{_key(field)}{optional}: {_type(sub, inner)};")
    lines.append(f"{indent}}}")
    return "\n".join(line for line in lines if line)


def _type(schema: Schema, indent: str) -> str:
    """A JSON Schema (the subset pydantic writes) as a TypeScript type."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return " | ".join(dict.fromkeys(_type(s, indent) for s in schema[union]))
    if schema.get("not") == {}:
        return "never"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_type({**schema, "type": k}, indent) for k in kind)
    if kind == "array":
        item = _type(schema.get("items", {}), indent)
        return f"({item})[]" if " " in item else f"{item}[]"
    if kind == "object" or "properties" in schema:
        if "properties" in schema:
            return _object(schema, indent)
        extra = schema.get("additionalProperties", True)
        value = "unknown" if extra in (True, {}) else _type(extra, indent)
        return f"Record<string, {value}>"
    return {"string": "string", "integer": "number", "number": "number", "boolean": "boolean",
            "null": "null"}.get(str(kind), "unknown")  # fmt: skip


def _key(name: str) -> str:
    return name if name.isidentifier() else json.dumps(name)


def _comment(text: str | None, indent: str) -> str:
    if not text:
        return ""
    return f"{indent}/** {' '.join(text.split())} */\n"


def main() -> None:
    from controller.view.openrpc import document
    from controller.view.server import served_methods

    print(render(document(served_methods())), end="")


if __name__ == "__main__":
    main()
