"""Updates and CRD versions on Kubernetes: the rendered DaemonSet, the CRDs, and their docs.

The DaemonSet's update strategy is checked on `kubectl kustomize manifests/base` and on the
plain files (test_manifests' renderers); docs/kubernetes.md shows the same values, and its
OnDelete overlay renders to OnDelete.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from test_manifests import BASE, RENDERERS, container, load_all, one, pod

from controller.api.kinds import GROUP, VERSION

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "kubernetes.md"
CRDS = ROOT / "crds"


@pytest.fixture(params=list(RENDERERS), scope="module")
def base(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return RENDERERS[request.param](BASE)


def daemonset(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "DaemonSet", "camctl")["spec"]
    return spec


def section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


# --- the update strategy --------------------------------------------------------------


def test_the_daemonset_updates_one_node_at_a_time_without_surge(
    base: list[dict[str, Any]],
) -> None:
    spec = daemonset(base)
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    # A surge pod could not start: the node's host ports are the old pod's.
    host_ports = [p for c in pod(base)["containers"] for p in c["ports"] if "hostPort" in p]
    assert host_ports
    assert spec["revisionHistoryLimit"] >= 2  # something for `kubectl rollout undo`


def test_a_new_pod_must_stay_ready_for_three_passes(base: list[dict[str, Any]]) -> None:
    camctl = container(base, "camctl")
    (resync,) = [int(a.split("=")[1]) for a in camctl["args"] if a.startswith("--resync=")]
    assert daemonset(base)["minReadySeconds"] >= 3 * resync
    assert camctl["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_docs_show_the_strategy_the_manifest_has(base: list[dict[str, Any]]) -> None:
    text = section("Updates and rollback")
    shown = YAML(typ="safe").load(code_blocks(text, "yaml")[0])
    spec = daemonset(base)
    assert shown == {k: spec[k] for k in shown}
    assert set(shown) == {"updateStrategy", "minReadySeconds", "revisionHistoryLimit"}
    assert f"minReadySeconds: {spec['minReadySeconds']}" in text
    assert "kubectl -n camctl rollout undo ds/camctl" in text


def test_the_documented_ondelete_overlay_renders_to_ondelete(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: it renders kustomizations offline (kubectl kustomize)"
    overlay = YAML(typ="safe").load(code_blocks(section("Updates and rollback"), "yaml")[1])
    overlay["resources"] = [os.path.relpath(BASE, tmp_path)]  # where the docs say to point
    YAML(typ="safe").dump(overlay, tmp_path / "kustomization.yaml")
    done = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    spec = daemonset(load_all(done.stdout))
    assert spec["updateStrategy"] == {"type": "OnDelete"}


# --- CRD versions ---------------------------------------------------------------------


def crds() -> list[dict[str, Any]]:
    return [YAML(typ="safe").load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]


def test_each_crd_stores_one_version_it_serves_and_camctl_watches() -> None:
    assert len(crds()) == 3
    for crd in crds():
        assert crd["spec"]["group"] == GROUP
        versions = crd["spec"]["versions"]
        (stored,) = [v for v in versions if v["storage"]]
        assert stored["served"] is True, crd["metadata"]["name"]
        assert VERSION in {v["name"] for v in versions if v["served"]}


def test_none_conversion_only_between_identical_schemas() -> None:
    for crd in crds():
        strategy = crd["spec"].get("conversion", {}).get("strategy", "None")
        if strategy == "None":
            schemas = [v["schema"] for v in crd["spec"]["versions"]]
            assert all(s == schemas[0] for s in schemas), crd["metadata"]["name"]


def test_the_docs_name_the_current_version_and_what_the_migration_runs() -> None:
    text = section("CRD versions")
    assert f"one version, `{VERSION}`, served and stored" in text
    commands = "".join(code_blocks(text, "sh"))
    plurals = {crd["spec"]["names"]["plural"] for crd in crds()}
    (rewritten,) = re.findall(r"kubectl get (\S+) -A -o json \| kubectl replace -f -", commands)
    assert set(rewritten.split(",")) == plurals  # every kind's objects are rewritten
    (patched,) = re.findall(r"for crd in ([\w ]+); do", commands)
    assert set(patched.split()) == plurals
    assert f"$crd.{GROUP}" in commands
