"""The deployment files: kustomize output, pod settings, MediaMTX config, alerts, systemd, image.

Every pod check runs twice: on `kubectl kustomize manifests/base` (kubectl 1.32 is on the CI
image) and on the files read as plain YAML, for machines without kubectl.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from openapi_contract import facts
from ruamel.yaml import YAML

from controller import __version__
from controller.cli import main
from controller.reconcile.metrics import Metrics
from controller.view.metrics import ResourceCollector
from controller.view.snapshot import Snapshot

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "manifests" / "base"
PROMETHEUS = ROOT / "manifests" / "prometheus"
NETWORK_CAMERAS = ROOT / "manifests" / "network-cameras"
CAMERA_SECRETS = ROOT / "manifests" / "components" / "camera-secrets"
SYSTEMD = ROOT / "manifests" / "systemd"
MEDIAMTX_IMAGE = "bluenviron/mediamtx:1.20.1-ffmpeg"
LOCALHOST = {"127.0.0.1", "::1"}


def load_all(text: str) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(text) if d]


def kubectl_kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the plain-YAML variant runs without it)")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return load_all(done.stdout)


def plain(directory: Path) -> list[dict[str, Any]]:
    """What kustomize would make, near enough: resources, and generated ConfigMaps."""
    kustomization = YAML(typ="safe").load((directory / "kustomization.yaml").read_text())
    docs = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        docs += plain(path) if path.is_dir() else load_all(path.read_text())
    for generator in kustomization.get("configMapGenerator", []):
        files = {name: (directory / name).read_text() for name in generator["files"]}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": files,
            }
        )
    return docs


RENDERERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "kubectl": kubectl_kustomize,
    "plain": plain,
}


@pytest.fixture(params=list(RENDERERS), scope="module")
def base(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return RENDERERS[request.param](BASE)


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return found


def pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "DaemonSet")["spec"]["template"]["spec"]
    return spec


def containers(docs: list[dict[str, Any]], init: bool = False) -> Iterator[dict[str, Any]]:
    spec = pod(docs)
    yield from spec["containers"]
    if init:
        yield from spec.get("initContainers", [])


def container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(c for c in containers(docs) if c["name"] == name)


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


# --- Kustomize output ----------------------------------------------------------------


def test_kustomize_renders_the_base_and_the_prometheus_overlay() -> None:
    kinds = {d["kind"] for d in kubectl_kustomize(BASE)}
    assert kinds == {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Service",
        "DaemonSet",
    }
    overlay = kubectl_kustomize(PROMETHEUS)
    assert {"ServiceMonitor", "PrometheusRule"} <= {d["kind"] for d in overlay}
    for doc in overlay:
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == "camctl", doc["metadata"]["name"]


def test_the_service_account_is_the_one_bound_to_the_role(base: list[dict[str, Any]]) -> None:
    binding = one(base, "ClusterRoleBinding", "camctl")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "camctl",
    }
    (subject,) = binding["subjects"]
    assert subject["name"] == pod(base)["serviceAccountName"] == "camctl"
    assert one(base, "ServiceAccount", "camctl")


def secret_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        rule
        for d in docs
        if d["kind"] == "ClusterRole"
        for rule in d["rules"]
        if "secrets" in rule["resources"]
    ]


def test_secrets_are_readable_only_with_the_camera_secrets_component(
    base: list[dict[str, Any]],
) -> None:
    assert secret_rules(base) == []
    assert "CAMCTL_READ_SECRETS" not in env(container(base, "camctl"))
    component = load_all((CAMERA_SECRETS / "rbac.yaml").read_text())
    assert secret_rules(component) == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}
    ]
    binding = one(component, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == one(component, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "camctl", "namespace": "camctl"}
    ]
    patch = load_all((CAMERA_SECRETS / "read-secrets.yaml").read_text())
    (camctl,) = one(patch, "DaemonSet")["spec"]["template"]["spec"]["containers"]
    assert env(camctl) == {"CAMCTL_READ_SECRETS": "true"}
    known = {p.envvar for p in main.commands["run"].params if isinstance(p.envvar, str)}
    assert "CAMCTL_READ_SECRETS" in known


def test_kustomize_renders_the_network_cameras_overlay() -> None:
    docs = kubectl_kustomize(NETWORK_CAMERAS)
    assert secret_rules(docs) == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}
    ]
    assert env(container(docs, "camctl"))["CAMCTL_READ_SECRETS"] == "true"
    assert (
        one(docs, "ClusterRoleBinding", "camctl-camera-secrets")["subjects"][0]["name"]
        == (pod(docs)["serviceAccountName"])
    )


# --- The pod -------------------------------------------------------------------------


def test_every_image_is_pinned(base: list[dict[str, Any]]) -> None:
    for c in containers(base, init=True):
        image = c["image"]
        assert "@sha256:" in image or re.search(r":\d[\w.-]*$", image), image
        assert not image.endswith(":latest")
    assert container(base, "camctl")["image"].endswith(f":{__version__}")


def test_mediamtx_is_the_pinned_image_that_carries_ffmpeg(base: list[dict[str, Any]]) -> None:
    assert container(base, "mediamtx")["image"] == MEDIAMTX_IMAGE
    # ffmpeg runs where MediaMTX runs: it starts it for every camera path.
    assert MEDIAMTX_IMAGE.endswith("-ffmpeg")


def test_probes_resources_and_security_context(base: list[dict[str, Any]]) -> None:
    spec = pod(base)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in containers(base, init=True):
        resources = c["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and set(resources["limits"])
        security = c["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, c["name"]
        if not security.get("privileged"):
            assert security["allowPrivilegeEscalation"] is False, c["name"]
            assert security["capabilities"]["drop"] == ["ALL"], c["name"]
    for c in containers(base):
        assert c["livenessProbe"] and c["readinessProbe"], c["name"]
    camctl = container(base, "camctl")["securityContext"]
    assert "privileged" not in camctl and "runAsUser" not in camctl  # the pod's non-root user


def test_every_port_referenced_exists(base: list[dict[str, Any]]) -> None:
    ports = {p["name"]: p["containerPort"] for c in containers(base) for p in c["ports"]}
    for c in containers(base):
        own = {p["name"] for p in c["ports"]} | {p["containerPort"] for p in c["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            action = c[probe].get("httpGet") or c[probe].get("tcpSocket")
            assert action["port"] in own, f"{c['name']} {probe}: {action['port']}"
    for port in one(base, "Service", "camctl")["spec"]["ports"]:
        assert port["targetPort"] in ports, port
    assert f"--view=0.0.0.0:{ports['view']}" in container(base, "camctl")["args"]


def test_devices_and_udev_are_mounted_read_only(base: list[dict[str, Any]]) -> None:
    volumes = {v["name"]: v for v in pod(base)["volumes"]}
    mounts = {c["name"]: {m["mountPath"]: m for m in c["volumeMounts"]} for c in containers(base)}
    udev, dev = mounts["camctl"]["/run/udev"], mounts["mediamtx"]["/dev"]
    assert udev["readOnly"] is True and dev["readOnly"] is True
    assert volumes[udev["name"]]["hostPath"]["path"] == "/run/udev"
    assert volumes[dev["name"]]["hostPath"]["path"] == "/dev"
    assert "/dev" not in mounts["camctl"]  # camctl opens no device: udev's records suffice
    # The host's /dev must not receive the kubelet's termination file.
    assert container(base, "mediamtx")["terminationMessagePath"].startswith("/tmp/")


def test_camctl_runs_the_operator_on_its_node(base: list[dict[str, Any]]) -> None:
    camctl = container(base, "camctl")
    assert camctl["args"][:2] == ["run", "--kubernetes"]
    variables = env(camctl)
    assert variables["CAMCTL_NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert variables["CAMCTL_PUBLIC_HOST"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    known = {p.envvar for p in main.commands["run"].params if isinstance(p.envvar, str)}
    assert {name for name in variables if name.startswith("CAMCTL_")} <= known


def test_camctl_arguments_are_options_of_camctl_run(base: list[dict[str, Any]]) -> None:
    options = {o for p in main.commands["run"].params for o in p.opts if o.startswith("--")}
    used = {a.split("=")[0] for a in container(base, "camctl")["args"] if a.startswith("--")}
    missing = used - options
    if missing == {"--view", "--view-token-file"}:
        pytest.xfail("the view (--view, --view-token-file) is not in `camctl run` yet")
    assert missing == set()


# --- MediaMTX's configuration --------------------------------------------------------


def mediamtx_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (volume,) = [v for v in pod(docs)["volumes"] if "configMap" in v]
    configmap = one(docs, "ConfigMap", volume["configMap"]["name"])
    config: dict[str, Any] = YAML(typ="safe").load(configmap["data"]["mediamtx.yml"])
    return config


def test_the_mediamtx_api_is_on_localhost_where_camctl_expects_it(
    base: list[dict[str, Any]],
) -> None:
    config = mediamtx_config(base)
    assert config["api"] is True
    url = urlsplit(env(container(base, "camctl"))["CAMCTL_MEDIAMTX_URL"])
    assert config["apiAddress"] == f"127.0.0.1:{url.port}"
    assert url.hostname == "127.0.0.1"
    args = container(base, "mediamtx")["args"]
    mount = next(m for m in container(base, "mediamtx")["volumeMounts"] if m["name"] == "config")
    assert args == [f"{mount['mountPath']}/mediamtx.yml"]


def test_only_localhost_may_publish_or_use_the_api(base: list[dict[str, Any]]) -> None:
    config = mediamtx_config(base)
    for user in config["authInternalUsers"]:
        actions = {p["action"] for p in user["permissions"]}
        if actions & {"publish", "api", "pprof"}:
            assert user["ips"] and set(user["ips"]) <= LOCALHOST, user
    assert config["paths"] == {}  # every path comes from camctl, through the API


def test_mediamtx_ports_match_the_container(base: list[dict[str, Any]]) -> None:
    config = mediamtx_config(base)
    ports = {p["containerPort"] for p in container(base, "mediamtx")["ports"]}
    for key in ("rtspAddress", "hlsAddress", "webrtcAddress", "webrtcLocalUDPAddress"):
        assert int(config[key].rsplit(":", 1)[1]) in ports, key
    for key in ("metricsAddress", "playbackAddress"):
        assert int(config[key].rsplit(":", 1)[1]) in ports, key


def test_every_mediamtx_setting_exists_in_v1_20_1() -> None:
    reference = set(facts()["settings"])  # the keys of MediaMTX's default mediamtx.yml
    ours = YAML(typ="safe").load((BASE / "mediamtx.yml").read_text())
    assert set(ours) <= reference, set(ours) - reference


# --- Prometheus ----------------------------------------------------------------------


def metric_names() -> set[str]:
    names = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    for family in Metrics().registry.collect():  # labelled series have no samples yet
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    view = SimpleNamespace(snapshot=Snapshot(), listeners=set())  # the view's own gauges
    for family in ResourceCollector(view).collect():  # type: ignore[arg-type]
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    config = YAML(typ="safe").load((PROMETHEUS / "kube-state-metrics-camctl.yaml").read_text())
    for resource in config["spec"]["resources"]:
        names |= {f"{resource['metricNamePrefix']}_{m['name']}" for m in resource["metrics"]}
    return names


def test_alerts_use_metrics_that_exist() -> None:
    rule = one(load_all((PROMETHEUS / "prometheusrule.yaml").read_text()), "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"CamctlDown", "CamctlMediaMTXUnreachable", "CamctlCameraAbsent"} <= set(alerts)
    assert {"CamctlResourceStalled", "CamctlRecordingDiskLow", "CamctlRecordingNotWriting"} <= set(
        alerts
    )
    known = metric_names()
    for alert, expr in alerts.items():
        for name in re.findall(r"\b(camctl_[a-z_]+)", expr):
            assert name in known, f"{alert}: {name} is not exported"


def test_the_service_monitor_scrapes_ports_of_the_service() -> None:
    overlay = plain(PROMETHEUS)
    monitor = one(overlay, "ServiceMonitor")["spec"]
    service = one(overlay, "Service", "camctl")
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    names = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["endpoints"]} <= names
    # The view wants a token for /metrics: one from the Secret the pod reads its tokens from.
    (secret,) = [v["secret"] for v in pod(overlay)["volumes"] if "secret" in v]
    view = next(e for e in monitor["endpoints"] if e["port"] == "view")
    assert view["authorization"]["credentials"]["name"] == secret["secretName"]


# --- systemd and the image -----------------------------------------------------------


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text())
    return parser


SANDBOX = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
}


@pytest.mark.parametrize("name", ["camctl.service", "mediamtx.service"])
def test_systemd_units_are_sandboxed(name: str) -> None:
    service = unit(name)["Service"]
    for key, value in SANDBOX.items():
        assert service.get(key) == value, f"{name}: {key}"
    assert service["StateDirectory"]


def test_camctl_reads_the_recordings_mediamtx_writes_and_nothing_runs_as_root() -> None:
    camctl, mediamtx = unit("camctl.service")["Service"], unit("mediamtx.service")["Service"]
    assert camctl["DynamicUser"] == "yes"
    users = [line.split() for line in (SYSTEMD / "camctl.sysusers").read_text().splitlines()]
    assert users[2][:3] == ["u", "mediamtx", "-"] and mediamtx["User"] == "mediamtx"
    assert camctl["SupplementaryGroups"] == mediamtx["Group"] == "mediamtx"
    assert mediamtx["StateDirectoryMode"] == "0750" and mediamtx["UMask"] == "0027"
    root = camctl["ExecStart"].split("--recordings-root ")[1].split()[0]
    assert root == mediamtx["WorkingDirectory"] + "/recordings"  # MediaMTX's ./recordings


def test_the_pod_mounts_the_recordings_read_only_where_camctl_looks(
    base: list[dict[str, Any]],
) -> None:
    camctl, mediamtx = container(base, "camctl"), container(base, "mediamtx")
    mounts = {m["name"]: m for m in camctl["volumeMounts"]}
    root = next(a.split("=", 1)[1] for a in camctl["args"] if a.startswith("--recordings-root"))
    assert mounts["recordings"] == {"name": "recordings", "mountPath": root, "readOnly": True}
    assert {"name": "recordings", "mountPath": root} in mediamtx["volumeMounts"]


def test_systemd_units_run_camctl_after_mediamtx() -> None:
    camctl, mediamtx = unit("camctl.service"), unit("mediamtx.service")
    assert "mediamtx.service" in camctl["Unit"]["After"]
    assert camctl["Service"]["ExecStart"].split()[1:3] == ["run", "/etc/camctl/documents"]
    assert "PrivateDevices" not in mediamtx["Service"]  # it opens the cameras
    assert mediamtx["Service"]["DeviceAllow"] == "char-video4linux rw"
    assert mediamtx["Service"]["ExecStart"].endswith("/etc/mediamtx/mediamtx.yml")


def test_systemd_analyze_finds_nothing_but_missing_binaries() -> None:
    units = [str(SYSTEMD / "camctl.service"), str(SYSTEMD / "mediamtx.service")]
    done = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert problems == []


def test_the_dockerfile_builds_a_pinned_non_root_image() -> None:
    text = (ROOT / "Dockerfile").read_text()
    steps = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]
    bases = [s.split()[1] for s in steps if s.startswith("FROM ")]
    assert bases and all(re.search(r":\d+\.\d+\.\d+", b) for b in bases), bases
    (user,) = [s.split()[1] for s in steps if s.startswith("USER ")]
    assert user.split(":")[0] not in ("0", "root")
    assert user.split(":")[0] == str(pod(plain(BASE))["securityContext"]["runAsUser"])
    assert 'ENTRYPOINT ["camctl"]' in steps
    copied = [s.split()[1] for s in steps if s.startswith("COPY ") and "--from" not in s]
    for path in copied:
        assert (ROOT / path).exists(), path
