"""The facts file the contract tests read is what tools/mediamtx_facts.py derives.

MediaMTX's own files (openapi.yaml, mediamtx.yml of v1.20.1) are not part of camctl: on the
development machine they sit beside the repository in ../shared/mediamtx/. Where they are, the
facts file must equal what the script derives from them. Where they are not (a user's clone),
that one check cannot run and is skipped with its reason, which `pytest -ra` prints in the
summary: passing it would claim a comparison that never happened. The script itself is tested
everywhere, on a small MediaMTX-shaped description written here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "mediamtx_facts.py"
REFERENCE = ROOT.parent / "shared" / "mediamtx"

TINY_OPENAPI = """\
openapi: 3.0.0
info: {title: MediaMTX API, version: 1.0.0, description: prose that is left out}
components:
  schemas:
    OK:
      type: object
      properties:
        status: {type: string, enum: [ok]}
    Error:
      type: object
      properties:
        error: {type: string}
    PathConf:
      type: object
      properties:
        record: {type: boolean, description: Record}
        fallback: {type: string, nullable: true, deprecated: true}
        maxReaders: {type: integer, format: int64}
paths:
  /v3/config/paths/patch/{name}:
    patch:
      operationId: configPathsPatch
      summary: patches a path configuration.
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/PathConf"}
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: "#/components/schemas/OK"}}}
        "404":
          description: path not found.
          content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}
"""
TINY_CONFIG = (
    "logLevel: info\napi: false\npathDefaults:\n  record: false\n  maxReaders: 0\npaths:\n"
)


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_facts_file_is_what_the_script_derives_from_mediamtx() -> None:
    if not (REFERENCE / "openapi.yaml").is_file() or not (REFERENCE / "mediamtx.yml").is_file():
        pytest.skip(
            f"not compared: MediaMTX's openapi.yaml and mediamtx.yml are not in {REFERENCE} "
            "(they sit beside the repository on the development machine, not in a clone)"
        )
    done = run_script("--check", REFERENCE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_script_keeps_names_types_and_codes(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text(TINY_OPENAPI)
    (tmp_path / "mediamtx.yml").write_text(TINY_CONFIG)
    facts = tmp_path / "facts.json"
    assert run_script(tmp_path, "--facts", facts).returncode == 0
    derived = json.loads(facts.read_text())
    assert derived["operations"] == [
        {
            "method": "PATCH",
            "path": "/v3/config/paths/patch/{name}",
            "query": {},
            "body": "PathConf",
            "bodyRequired": True,
            "responses": {"200": "OK", "404": "Error"},
        }
    ]
    assert derived["schemas"]["PathConf"]["properties"] == {
        "fallback": {"type": "string", "nullable": True, "deprecated": True},
        "maxReaders": {"type": "integer"},
        "record": {"type": "boolean"},
    }
    assert derived["settings"] == ["api", "logLevel", "pathDefaults", "paths"]
    assert derived["pathDefaults"] == {"record": False, "maxReaders": 0}
    assert "prose" not in facts.read_text() and "patches" not in facts.read_text()


def test_the_check_fails_when_the_facts_differ(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text(TINY_OPENAPI)
    (tmp_path / "mediamtx.yml").write_text(TINY_CONFIG)
    facts = tmp_path / "facts.json"
    run_script(tmp_path, "--facts", facts)
    assert run_script("--check", tmp_path, "--facts", facts).returncode == 0
    facts.write_text(facts.read_text().replace('"404"', '"400"'))
    done = run_script("--check", tmp_path, "--facts", facts)
    assert done.returncode == 1 and "differs" in done.stdout
