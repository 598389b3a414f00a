"""Derive tests/mediamtx_facts.json, the facts the tests hold MediaMTX v1.20.1 to.

The contract tests check camctl's requests and the emulator's answers against MediaMTX's
Control API. They read this facts file, not MediaMTX's own files, so a clone of camctl passes
without them. The facts are names, types and codes, taken from MediaMTX's OpenAPI description
(api/openapi.yaml) and its default configuration (mediamtx.yml): every operation (method, path
template, query parameters, request body, response codes and schemas), every schema's fields,
types, enums and nullable/deprecated marks, the names of the global settings, and the path
defaults. Prose (descriptions, summaries) and Go formats are left out.

    python tools/mediamtx_facts.py ../shared/mediamtx          # (re)write the facts file
    python tools/mediamtx_facts.py --check ../shared/mediamtx  # exit 1 if it differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

FACTS = Path(__file__).resolve().parents[1] / "tests" / "mediamtx_facts.json"
MEDIAMTX_VERSION = "v1.20.1"
SCHEMA_KEYS = ("type", "enum", "nullable", "deprecated", "items", "properties", "oneOf", "allOf")
REF_PREFIX = "#/components/schemas/"
WIDTH = 100


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def schema_facts(node: dict[str, Any]) -> dict[str, Any]:
    """One schema with only what a validator needs; a $ref becomes the bare schema name."""
    out: dict[str, Any] = {}
    if "$ref" in node:
        out["$ref"] = ref_name(node["$ref"])
    for key in SCHEMA_KEYS:
        if key not in node:
            continue
        value = node[key]
        if key == "items":
            value = schema_facts(value)
        elif key == "properties":
            value = {name: schema_facts(sub) for name, sub in sorted(value.items())}
        elif key in ("oneOf", "allOf"):
            value = [schema_facts(sub) for sub in value]
        out[key] = value
    return out


def ref_name(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"unexpected $ref {ref!r}")
    return ref.removeprefix(REF_PREFIX)


def content_schema(holder: dict[str, Any]) -> str:
    """The component named by a JSON body or response (MediaMTX names every one)."""
    return ref_name(holder["content"]["application/json"]["schema"]["$ref"])


def operation_facts(template: str, method: str, op: dict[str, Any]) -> dict[str, Any]:
    query = {
        p["name"]: {k: v for k, v in p["schema"].items() if k in ("type", "default")}
        for p in op.get("parameters", [])
        if p["in"] == "query"
    }
    body = op.get("requestBody")
    return {
        "method": method.upper(),
        "path": template,
        "query": query,
        "body": content_schema(body) if body else None,
        "bodyRequired": bool(body and body.get("required")),
        "responses": {code: content_schema(r) for code, r in sorted(op["responses"].items())},
    }


def derive(reference: Path) -> dict[str, Any]:
    """The facts, from a directory holding MediaMTX's openapi.yaml and mediamtx.yml."""
    spec = load_yaml(reference / "openapi.yaml")
    config = load_yaml(reference / "mediamtx.yml")
    operations = [
        operation_facts(template, method, op)
        for template, item in spec["paths"].items()
        for method, op in item.items()
    ]
    schemas = {
        name: schema_facts(node) for name, node in sorted(spec["components"]["schemas"].items())
    }
    return {
        "about": "derived by tools/mediamtx_facts.py from openapi.yaml and mediamtx.yml",
        "mediamtx": MEDIAMTX_VERSION,
        "operations": operations,
        "schemas": schemas,
        "settings": sorted(config),
        "pathDefaults": config["pathDefaults"],
    }


def render(value: Any, indent: int = 0, used: int = 0) -> str:
    """JSON that keeps what fits in WIDTH columns on one line: a diff shows one field a line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or used + len(flat) <= WIDTH:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        keys = [f"{pad}{json.dumps(k)}: " for k in value]
        lines = [
            k + render(v, indent + 2, len(k)) for k, v in zip(keys, value.values(), strict=True)
        ]
        return "{\n" + ",\n".join(lines) + "\n" + " " * indent + "}"
    lines = [pad + render(v, indent + 2, len(pad)) for v in value]
    return "[\n" + ",\n".join(lines) + "\n" + " " * indent + "]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="directory with openapi.yaml, mediamtx.yml")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--facts", type=Path, default=FACTS, help=f"default {FACTS}")
    args = parser.parse_args(argv)
    text = render(derive(args.reference)) + "\n"
    if not args.check:
        args.facts.write_text(text, encoding="utf-8")
        return 0
    if args.facts.read_text(encoding="utf-8") == text:
        print(f"{args.facts} equals what {args.reference} gives")
        return 0
    print(f"{args.facts} differs from what {args.reference} gives: run {sys.argv[0]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
