"""The person who manages cameras with kubectl on a cluster.

They apply Camera, Stream and Recording resources with `kubectl apply -f`, and read what
camctl did with `kubectl get` and `kubectl describe`. camctl runs as the operator on the
camera's node (here one controller with --claim-unassigned, as on a single-node cluster).

Each story runs the real `kubectl` against kmock's Kubernetes API emulator (the cluster of
tests/test_kubernetes.py, which also lists kinds the way kubectl reads them), the operator
through kopf, and the MediaMTX emulator. kmock serves no OpenAPI schema, so kubectl applies
with --validate=false; the API server's schema checks are tests/test_crds.py's.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
from test_kubernetes import Cluster, Harness, QuickServer, _start, passes, stopped

from controller.api.kinds import GROUP, PLURALS, VERSION
from controller.observe.mediamtx import MediaMTXClient
from controller.testing.harness import eventually
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "gitops"
KINDS = {plural: kind for kind, plural in PLURALS.items()}
SHORT = {"Camera": ["cam"], "Stream": ["st"], "Recording": ["rec"]}
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


class Listing(Cluster):
    """The cluster, with lists that say their kind (`CameraList`), as kubectl reads them."""

    async def _serve_list(self, request: Any) -> Any:
        answer = await super()._serve_list(request)
        resource = request.resource
        version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        return {"apiVersion": version, "kind": f"{KINDS.get(resource.plural, '')}List", **answer}


def declare(cluster: Cluster) -> None:
    """The three kinds as their CRDs name them (kind, singular, short names)."""
    cluster.resources["v1/namespaces"] = kmock.ResourceInfo(namespaced=False, kind="Namespace")
    for kind, plural in PLURALS.items():
        cluster.resources[f"{GROUP}/{VERSION}/{plural}"] = kmock.ResourceInfo(
            namespaced=True,
            kind=kind,
            singular=kind.lower(),
            shortnames=SHORT[kind],
            subresources={"status"},
            verbs=VERBS,
        )


@dataclass
class Site:
    """The cluster as its user sees it: kubectl, with the harness behind it to look at."""

    harness: Harness
    kubeconfig: Path

    async def kubectl(self, *args: str, check: bool = True) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert not check or done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    async def condition(self, kind: str, name: str, type_: str = "Ready") -> str:
        path = f'{{.status.conditions[?(@.type=="{type_}")].status}}'
        path += f'/{{.status.conditions[?(@.type=="{type_}")].reason}}'
        return await self.kubectl("get", kind, name, "-o", f"jsonpath={path}", check=False)

    async def until(self, kind: str, name: str, wanted: str, type_: str = "Ready") -> None:
        deadline = asyncio.get_running_loop().time() + 20
        while (said := await self.condition(kind, name, type_)) != wanted:
            assert asyncio.get_running_loop().time() < deadline, f"{kind}/{name}: {said}"
            await asyncio.sleep(0.2)


@asynccontextmanager
async def cluster(tmp_path: Path) -> AsyncIterator[Site]:
    """A cluster, its operator for node edge-01 (claiming Cameras without spec.node), and a
    kubeconfig that points kubectl at it."""
    async with Listing() as api:
        declare(api)
        server = kmock.Server(api, server_cls=QuickServer)
        await server.__aenter__()
        emu = MediaMTXEmulator()
        await emu.start()
        try:
            async with MediaMTXClient(emu.url or "") as client:
                h = await _start(api, server, emu, client, tmp_path, "edge-01", True)
                kubeconfig = tmp_path / "kubeconfig"
                kubeconfig.write_text(
                    "apiVersion: v1\nkind: Config\n"
                    f"clusters: [{{name: site, cluster: {{server: '{server.url}'}}}}]\n"
                    "contexts: [{name: site, context: {cluster: site, user: me, "
                    "namespace: default}}]\ncurrent-context: site\n"
                    "users: [{name: me, user: {token: not-checked}}]\n"
                )
                yield Site(h, kubeconfig)
                await stopped(h)
        finally:
            await emu.stop()
            await server.__aexit__(None, None, None)


async def test_kubectl_apply_gives_a_ready_stream_and_its_url(tmp_path: Path) -> None:
    """I apply the cameras, streams and recordings with kubectl, and kubectl tells me when
    each is ready, and where to watch it.

    Given a cluster with camctl's operator on the camera's node,
    when I run `kubectl apply -f examples/gitops/`,
    then `kubectl get streams` lists the three Streams, each becomes Ready (PathConfigured),
          front-door's status gives its RTSP URL on the node, MediaMTX has the three paths,
          and the Recording of front-door records (RecordingConfigured).
    """
    async with cluster(tmp_path) as c:
        said = await c.kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
        assert "stream.camctl.dev/front-door created" in said
        for name in ("front-door", "garage", "workshop"):
            await c.until("stream", name, "True/PathConfigured")
        await c.until("recording", "front-door", "True/RecordingConfigured")
        listed = await c.kubectl("get", "streams")
        assert all(name in listed for name in ("front-door", "garage", "workshop")), listed
        url = await c.kubectl("get", "stream", "front-door", "-o", "jsonpath={.status.urls.rtsp}")
        assert url == "rtsp://edge-01.example:8554/cams/front-door"
        h = c.harness
        assert h.emu.path_names() == ["cams/front-door", "cams/garage", "cams/workshop"]
        assert h.emu.stored("cams/front-door")["record"] is True


async def test_a_change_camctl_refuses_keeps_the_last_good_spec(tmp_path: Path) -> None:
    """If I apply a change the cluster accepts but camctl cannot do, nothing breaks: the
    camera keeps streaming as before and the resource tells me what is wrong.

    Given the examples applied and Ready,
    when I apply front-door's Stream asking to pass the camera's MJPEG through as H.264
          (`codec: copy` with `input: mjpeg`),
    then the Stream is Stalled with reason InvalidSpec, `kubectl describe` shows why,
          and MediaMTX's path keeps the command it had.
    """
    async with cluster(tmp_path) as c:
        await c.kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
        await c.until("stream", "front-door", "True/PathConfigured")
        before = c.harness.emu.stored("cams/front-door")["runOnInit"]
        changed = tmp_path / "front-door.yaml"
        streams = (EXAMPLES / "streams.yaml").read_text().split("\n---\n")[0]
        changed.write_text(streams.replace("codec: h264", "codec: copy"))
        await c.kubectl("apply", "--validate=false", "-f", str(changed))
        await c.until("stream", "front-door", "True/InvalidSpec", "Stalled")
        described = await c.kubectl("describe", "stream", "front-door")
        assert "InvalidSpec" in described and "copy" in described, described
        await passes(c.harness)  # a whole pass after the refusal: still nothing written
        assert c.harness.emu.stored("cams/front-door")["runOnInit"] == before


async def test_kubectl_delete_removes_the_stream_and_its_path(tmp_path: Path) -> None:
    """When I delete a Stream with kubectl, its path leaves MediaMTX before the Stream
    leaves the cluster, so nothing is left behind.

    Given the examples applied and Ready,
    when I run `kubectl delete stream garage`,
    then MediaMTX no longer has cams/garage, the Stream is gone from `kubectl get streams`,
          and the other paths are untouched.
    """
    async with cluster(tmp_path) as c:
        await c.kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
        await c.until("stream", "garage", "True/PathConfigured")
        h = c.harness
        finalizers = await c.kubectl(
            "get", "stream", "garage", "-o", "jsonpath={.metadata.finalizers}"
        )
        assert "paths.camctl.dev/edge-01" in finalizers
        await c.kubectl("delete", "stream", "garage", "--wait=false")
        await eventually(lambda: "cams/garage" not in h.emu.path_names(), 20)
        await eventually(lambda: h.get("Stream", "garage") is None, 20)
        assert "garage" not in await c.kubectl("get", "streams")
        assert h.emu.path_names() == ["cams/front-door", "cams/workshop"]


async def test_kubectl_says_when_a_camera_is_unplugged(tmp_path: Path) -> None:
    """When a camera is unplugged, kubectl shows it on the Camera and its Stream, and
    camctl records it as a Warning Event; plugged back in, all is Ready again.

    Given the examples applied and Ready,
    when the garage camera is unplugged from the node,
    then the Camera is Ready=False DeviceAbsent and the Stream CameraNotReady (`kubectl get
          camera garage -o yaml` says so), with a Warning Event DeviceAbsent;
    when it is plugged back in,
    then both are Ready again and the path is back.
    """
    async with cluster(tmp_path) as c:
        await c.kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
        await c.until("camera", "garage", "True/DeviceFound")
        h = c.harness
        plugged = list(h.devices.devices)
        h.devices.unplug("5F3A1B20")
        await c.until("camera", "garage", "False/DeviceAbsent")
        await c.until("stream", "garage", "False/CameraNotReady")
        shown = await c.kubectl("get", "camera", "garage", "-o", "yaml")
        assert "reason: DeviceAbsent" in shown
        await eventually(lambda: "DeviceAbsent" in h.reasons("garage"), 10)
        assert any(e["type"] == "Warning" for e in h.events("garage"))
        h.devices.devices = plugged
        h.devices.notify("devices: plugged")
        await c.until("stream", "garage", "True/PathConfigured")
        assert "cams/garage" in h.emu.path_names()
