"""client.d.ts is made from the OpenRPC document (controller/view/typescript.py), and
TypeScript accepts it as a user of the client would write against it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from controller.view.openrpc import document
from controller.view.server import served_methods
from controller.view.typescript import render

ROOT = Path(__file__).resolve().parents[1]
TYPES = ROOT / "controller" / "view" / "client.d.ts"


def test_client_d_ts_is_made_from_the_openrpc_document() -> None:
    assert TYPES.read_text(encoding="utf-8") == render(document(served_methods())), (
        "client.d.ts is stale: python -m controller.view.typescript > controller/view/client.d.ts"
    )


def test_typescript_accepts_the_types_as_a_user_writes_against_them() -> None:
    tsc = shutil.which("tsc")
    assert tsc, "TypeScript is needed (npm install -g typescript; .ci/system-deps installs it)"
    result = subprocess.run(
        [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
         "--moduleResolution", "nodenext", "--lib", "es2022,dom", "tests/js/uses_types.ts"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
