"""docs/deployment.md against the repository: the folders and files its commands apply
exist and render, the overlay it shows renders to what it says, and the camctl-host.sh
commands it names are the script's.

kubectl (with its built-in kustomize) renders offline; no cluster is asked.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deployment.md"
HOST_SCRIPT = ROOT / "manifests" / "systemd" / "camctl-host.sh"


def shell_lines() -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```$", DOC.read_text(), re.S | re.M)
    return [line.split(" #")[0].strip() for b in blocks for line in b.splitlines() if line]


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [d for d in YAML(typ="safe").load_all(done.stdout) if d]


def test_what_kubectl_applies_exists_and_renders() -> None:
    applied = []
    for line in shell_lines():
        words = shlex.split(line)
        if words[:1] != ["kubectl"]:
            continue
        for flag in ("-k", "-f"):
            if flag in words and words[1] == "apply":
                applied.append((flag, words[words.index(flag) + 1]))
        if words[1] == "kustomize":
            applied.append(("-k", words[2]))
    local = [(flag, target) for flag, target in applied if not target.startswith("site")]
    assert {("-f", "crds/"), ("-k", "manifests/base"), ("-k", "manifests/prometheus")} <= set(
        local
    ), applied
    for flag, target in local:
        assert (ROOT / target).exists(), target
        if flag == "-k":
            assert any(d["kind"] == "DaemonSet" for d in kustomize(ROOT / target)), target


def test_the_overlay_shown_renders_to_what_it_says(tmp_path: Path) -> None:
    text = DOC.read_text()
    overlay = re.search(r"```yaml\n# site/kustomization.yaml\n(.*?)```", text, re.S)
    assert overlay, "the overlay example"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "kustomization.yaml").write_text(overlay[1])
    (tmp_path / "camctl").symlink_to(ROOT)  # "where this repository's manifests are"
    ds = next(d for d in kustomize(tmp_path / "site") if d["kind"] == "DaemonSet")
    camctl = next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "camctl")
    assert camctl["image"] == "registry.example/camctl:0.1.0"
    assert {"name": "CAMCTL_CLAIM_UNASSIGNED", "value": "true"} in camctl["env"]


def test_the_host_commands_named_are_the_scripts() -> None:
    usage = HOST_SCRIPT.read_text()
    verbs = set(re.findall(r"^(\w+(?: \| \w+)*)\) \"cmd_\$command\"", usage, re.M)[0].split(" | "))
    named = set(re.findall(r"camctl-host\.sh (\w+)", DOC.read_text()))
    assert {"install", "upgrade", "rollback", "status"} <= named
    assert named <= verbs, named - verbs
