"""Check requests and responses against MediaMTX's own OpenAPI description.

The description lives outside the repository, in ../shared/mediamtx/openapi.yaml (CI has it
too); a missing file is an error, never a skip. Use from any test that holds an emulator:

    assert_requests_match_spec(emulator.requests)

Request bodies are checked strictly (every object closed with additionalProperties: false),
since MediaMTX decodes them with DisallowUnknownFields; OpenAPI 3.0's `nullable` becomes a JSON
Schema alternative with null.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
from ruamel.yaml import YAML

SHARED = Path(__file__).resolve().parents[2] / "shared" / "mediamtx"
OPENAPI = SHARED / "openapi.yaml"
MEDIAMTX_YML = SHARED / "mediamtx.yml"
_DROPPED = {"nullable", "deprecated", "format", "description", "example"}


@functools.cache
def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def spec() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(OPENAPI)
    return document


def to_json_schema(node: Any, *, strict: bool) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema, $refs inlined."""
    if isinstance(node, list):
        return [to_json_schema(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = spec()["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return to_json_schema({**target, **siblings}, strict=strict)
    out = {k: to_json_schema(v, strict=strict) for k, v in node.items() if k not in _DROPPED}
    if "properties" in node:  # property names are data, not keywords: keep them all
        out["properties"] = {
            name: to_json_schema(sub, strict=strict) for name, sub in node["properties"].items()
        }
        if strict:
            out.setdefault("additionalProperties", False)
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def schema(name: str, *, strict: bool = True) -> dict[str, Any]:
    """A component schema (e.g. "PathConf") as JSON Schema."""
    converted: dict[str, Any] = to_json_schema(spec()["components"]["schemas"][name], strict=strict)
    return converted


def validation_errors(instance: Any, json_schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(json_schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    query: dict[str, dict[str, Any]]
    body: dict[str, Any] | None
    body_required: bool


def _template_pattern(template: str) -> re.Pattern[str]:
    """A path template as a regex; a {name} (MediaMTX path name) may contain slashes."""

    def group(match: re.Match[str]) -> str:
        return f"(?P<{match[1]}>{'.+' if match[1] == 'name' else '[^/]+'})"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", group, re.escape(template)) + "$")


@functools.cache
def operations() -> tuple[Operation, ...]:
    found = []
    for template, item in spec()["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            query = {p["name"]: p.get("schema", {}) for p in params if p["in"] == "query"}
            request_body = op.get("requestBody")
            body = None
            if request_body:
                body_schema = request_body["content"]["application/json"]["schema"]
                body = to_json_schema(body_schema, strict=True)
            required = bool(request_body and request_body.get("required"))
            pattern = _template_pattern(template)
            found.append(Operation(method.upper(), template, pattern, query, body, required))
    return tuple(found)


def find_operation(method: str, path: str) -> Operation | None:
    matches = [op for op in operations() if op.method == method and op.pattern.match(path)]
    # Prefer the template with the longest literal part ("/v3/paths/list" over ".../{name}").
    return max(matches, key=lambda op: len(re.sub(r"\{\w+\}", "", op.template)), default=None)


def request_problems(method: str, target: str, body: Any) -> list[str]:
    """What is wrong with one request (method, path with query, JSON body or None)."""
    parts = urlsplit(target)
    op = find_operation(method, parts.path)
    if op is None:
        return [f"{method} {parts.path}: no such operation in openapi.yaml"]
    where = f"{method} {target} ({op.template})"
    problems = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in op.query:
            problems.append(f"{where}: undeclared query parameter {key!r}")
        elif op.query[key].get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
            problems.append(f"{where}: query parameter {key}={value!r} is not an integer")
    if op.body is None and body is not None:
        problems.append(f"{where}: sends a body, the operation takes none")
    elif op.body is not None and body is None and op.body_required:
        problems.append(f"{where}: the operation requires a body")
    elif op.body is not None and body is not None:
        problems += [f"{where}: body {e}" for e in validation_errors(body, op.body)]
    return problems


def assert_requests_match_spec(requests: Iterable[tuple[str, str, Any]]) -> None:
    """Fail listing every logged request that MediaMTX's OpenAPI description does not allow."""
    requests = list(requests)
    assert requests, "no requests to check"
    problems = [
        p for method, target, body in requests for p in request_problems(method, target, body)
    ]
    assert not problems, "requests outside MediaMTX's API:\n" + "\n".join(problems)
