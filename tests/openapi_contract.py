"""Check requests and responses against MediaMTX v1.20.1's Control API.

The facts come from tests/mediamtx_facts.json (names, types and status codes), which
tools/mediamtx_facts.py derives from MediaMTX's OpenAPI description and default mediamtx.yml;
test_mediamtx_facts.py checks that it still does. Use from any test that holds an emulator:

    assert_requests_match_spec(emulator.requests)

Request bodies are checked strictly (every object closed with additionalProperties: false),
since MediaMTX decodes them with DisallowUnknownFields; OpenAPI 3.0's `nullable` becomes a JSON
Schema alternative with null.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema

FACTS = Path(__file__).resolve().parent / "mediamtx_facts.json"
_OPENAPI_ONLY = {"nullable", "deprecated"}


@functools.cache
def facts() -> dict[str, Any]:
    """MediaMTX's operations, schemas, global setting names and path defaults."""
    loaded: dict[str, Any] = json.loads(FACTS.read_text(encoding="utf-8"))
    return loaded


def to_json_schema(node: Any, *, strict: bool) -> Any:
    """A schema of the facts file as plain JSON Schema, $refs (schema names) inlined."""
    if isinstance(node, list):
        return [to_json_schema(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = facts()["schemas"][node["$ref"]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return to_json_schema({**target, **siblings}, strict=strict)
    out = {k: to_json_schema(v, strict=strict) for k, v in node.items() if k not in _OPENAPI_ONLY}
    if "properties" in node:  # property names are data, not keywords: keep them all
        out["properties"] = {
            name: to_json_schema(sub, strict=strict) for name, sub in node["properties"].items()
        }
        if strict:
            out.setdefault("additionalProperties", False)
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def schema(name: str, *, strict: bool = True) -> dict[str, Any]:
    """A component schema (e.g. "PathConf") as JSON Schema."""
    converted: dict[str, Any] = to_json_schema(facts()["schemas"][name], strict=strict)
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
    responses: dict[str, str]  # status code -> schema name


def _template_pattern(template: str) -> re.Pattern[str]:
    """A path template as a regex; a {name} (MediaMTX path name) may contain slashes."""

    def group(match: re.Match[str]) -> str:
        return f"(?P<{match[1]}>{'.+' if match[1] == 'name' else '[^/]+'})"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", group, re.escape(template)) + "$")


@functools.cache
def operations() -> tuple[Operation, ...]:
    found = []
    for op in facts()["operations"]:
        body = None if op["body"] is None else to_json_schema({"$ref": op["body"]}, strict=True)
        pattern = _template_pattern(op["path"])
        required, responses = op["bodyRequired"], op["responses"]
        found.append(
            Operation(op["method"], op["path"], pattern, op["query"], body, required, responses)
        )
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
        return [f"{method} {parts.path}: no such operation in MediaMTX's API"]
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


def response_problems(method: str, target: str, status: int, body: Any) -> list[str]:
    """What is wrong with one answer: a status code MediaMTX does not give, or its body."""
    op = find_operation(method, urlsplit(target).path)
    if op is None:
        return [f"{method} {target}: no such operation in MediaMTX's API"]
    where = f"{method} {target} ({op.template}) answered {status}"
    if (name := op.responses.get(str(status))) is None:
        return [f"{where}: MediaMTX answers only {', '.join(op.responses)}"]
    return [f"{where}: body {e}" for e in validation_errors(body, schema(name))]


def assert_requests_match_spec(requests: Iterable[tuple[str, str, Any]]) -> None:
    """Fail listing every logged request that MediaMTX's API does not allow."""
    requests = list(requests)
    assert requests, "no requests to check"
    problems = [
        p for method, target, body in requests for p in request_problems(method, target, body)
    ]
    assert not problems, "requests outside MediaMTX's API:\n" + "\n".join(problems)
