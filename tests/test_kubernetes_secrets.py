"""Network cameras' Secrets under Kubernetes, through the real kopf against kmock.

`camctl run --kubernetes --read-secrets` reads the Secret a Camera names (secretRef): the path
gets its credentials, a rotated Secret converges the path, a Secret deleted while in use makes
the Camera CredentialsUnavailable and keeps the path. The requests it makes are exactly what
manifests/components/camera-secrets grants on top of the base role, and no status or Event
it writes shows the password. Without --read-secrets, Secrets are never asked for.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kmock
import kopf
import pytest
from test_kubernetes import (
    ROOT,
    TIMING,
    Cluster,
    Devices,
    Harness,
    QuickServer,
    converged,
    declare,
    eventually,
    granted,
    passes,
    used,
)

from controller import wiring
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.sources.kubernetes import KubernetesSource
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

NODE = "edge-01"
PASSWORD, ROTATED = "Gate-s3cret!", "Gate-r0tated!"
ADDRESS = "192.0.2.10:554"
COMPONENT = ROOT / "manifests" / "components" / "camera-secrets"
REQUESTS: list[kmock.Request] = []  # with --read-secrets, for the RBAC test of the component
CAMERA = {
    "apiVersion": "camctl.dev/v1alpha1",
    "kind": "Camera",
    "metadata": {"name": "gate"},
    "spec": {
        "node": NODE,
        "url": "rtsp://192.0.2.10:554/h264/ch1/main",
        "credentials": {"secretRef": {"name": "gate-camera"}},
    },
}
STREAM = {
    "apiVersion": "camctl.dev/v1alpha1",
    "kind": "Stream",
    "metadata": {"name": "gate"},
    "spec": {"camera": "gate", "path": "cams/gate"},
}
GATE = [("Camera", "gate"), ("Stream", "gate")]


def secret(password: str, name: str = "gate-camera") -> dict[str, Any]:
    pairs = (("username", "admin"), ("password", password))
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in pairs}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "kubernetes.io/basic-auth",
        "data": encoded,
    }


def source_of(password: str) -> str:
    return f"rtsp://admin:{password.replace('!', '%21')}@192.0.2.10:554/h264/ch1/main"


class Secrets:
    """Secrets as the tests change them, through the API."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    async def create(self, body: dict[str, Any]) -> None:
        async with self.h.api.post("/api/v1/namespaces/default/secrets", json=body) as response:
            assert response.status == 200, await response.text()

    async def patch(self, name: str, body: dict[str, Any]) -> None:
        url = f"/api/v1/namespaces/default/secrets/{name}"
        async with self.h.api.patch(url, json=body) as response:
            assert response.status == 200, await response.text()

    async def delete(self, name: str) -> None:
        async with self.h.api.delete(f"/api/v1/namespaces/default/secrets/{name}") as response:
            assert response.status == 200, await response.text()


@asynccontextmanager
async def operator(tmp_path: Path, *, read_secrets: bool = True) -> AsyncIterator[Harness]:
    """A controller for NODE that reads Secrets, on a fresh cluster and MediaMTX."""
    async with Cluster() as cluster:
        declare(cluster)
        cluster.resources["v1/secrets"] = kmock.ResourceInfo(
            namespaced=True, kind="Secret", verbs={"get", "list", "watch"}
        )
        server = kmock.Server(cluster, server_cls=QuickServer)
        await server.__aenter__()
        emu = MediaMTXEmulator(cameras={ADDRESS: ("admin", PASSWORD)})
        await emu.start()
        h: Harness | None = None
        task: asyncio.Task[None] | None = None
        try:
            async with MediaMTXClient(emu.url or "") as client:
                url = str(server.url).rstrip("/")
                source, sink = wiring.kubernetes(
                    NODE,
                    login=lambda **_: kopf.ConnectionInfo(server=url),
                    relist_interval=0.3,
                    first_list_after=0.1,
                    conflict_retry=0.05,
                    unreachable_retry=0.1,
                    read_secrets=read_secrets,
                )
                assert isinstance(source, KubernetesSource)
                devices = Devices()
                settings = Settings(node_name=NODE, public_host="edge-01.example")
                parts = wiring.Parts(
                    source,
                    devices,
                    tmp_path / "state",
                    settings,
                    TIMING,
                    sinks=[sink],
                    credentials=[source] if read_secrets else [],
                )
                controller = wiring.controller(parts, client)
                h = Harness(cluster, server, emu, source, controller, devices)
                task = asyncio.create_task(controller.run(h.stop))
                await eventually(lambda: source.synced)
                yield h
                h.stop.set()
                await asyncio.wait_for(task, 5)
        finally:
            if h is not None and task is not None and not task.done():
                h.stop.set()
                await asyncio.wait_for(task, 5)
            if h is not None and read_secrets:
                REQUESTS.extend(h.operator_requests())
            await emu.stop()
            await server.__aexit__(None, None, None)


def reason(h: Harness, kind: str, name: str) -> str | None:
    return (h.ready(kind, name) or {}).get("reason")


async def connected(h: Harness) -> None:
    """The Camera says Connected: MediaMTX's runtime state is read by the passes that follow
    (the resync, in production), so this triggers passes until it does."""
    for _ in range(20):
        await passes(h)
        if reason(h, "Camera", "gate") == "Connected":
            return
    raise AssertionError(f"not Connected: {h.ready('Camera', 'gate')}")


async def test_a_secret_gives_the_path_its_credentials_and_rotation_converges_it(
    tmp_path: Path,
) -> None:
    async with operator(tmp_path) as h:
        secrets = Secrets(h)
        await secrets.create(secret(PASSWORD))
        for doc in (CAMERA, STREAM):
            await h.create(dict(doc))
        await eventually(lambda: "cams/gate" in h.emu.path_names())
        assert h.emu.stored("cams/gate")["source"] == source_of(PASSWORD)
        await connected(h)
        await eventually(lambda: converged(h, *GATE))

        # Rotated: the camera takes the new password, the Secret follows, the path converges.
        h.emu.cameras[ADDRESS] = ("admin", ROTATED)
        await secrets.patch("gate-camera", {"data": secret(ROTATED)["data"]})
        await eventually(lambda: h.emu.stored("cams/gate")["source"] == source_of(ROTATED))
        await connected(h)

        # Deleted while in use: the Camera says so, the path stays as it was.
        before = h.emu.stored("cams/gate")
        await secrets.delete("gate-camera")
        await eventually(lambda: reason(h, "Camera", "gate") == "CredentialsUnavailable")
        ready = h.ready("Camera", "gate") or {}
        assert ready["message"] == "credentials: Secret default/gate-camera: does not exist"
        await eventually(lambda: reason(h, "Stream", "gate") == "CameraNotReady")
        await passes(h)
        assert h.emu.stored("cams/gate") == before
        assert "cams/gate" in h.emu.path_names()
        assert "CredentialsUnavailable" in h.reasons("gate")
        types = {(e["reason"], e["type"]) for e in h.events("gate")}
        assert ("CredentialsUnavailable", "Warning") in types and ("Connected", "Normal") in types
        assert ("Connecting", "Normal") in types  # a path being connected is no warning

        # Created again: back in service, without writing to MediaMTX.
        writes = h.emu.write_count
        await secrets.create(secret(ROTATED))
        await eventually(lambda: reason(h, "Camera", "gate") != "CredentialsUnavailable")
        await connected(h)
        assert h.emu.write_count == writes

        for request in h.operator_requests():  # statuses, Events: never the password
            for password in (PASSWORD, ROTATED, source_of(ROTATED).split("@")[0]):
                assert password not in request.text


async def test_a_camera_whose_secret_is_missing_or_wrong_writes_nothing(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in (CAMERA, STREAM):
            await h.create(dict(doc))
        await eventually(lambda: reason(h, "Camera", "gate") == "CredentialsUnavailable")
        assert h.emu.path_names() == []
        no_password = secret(PASSWORD)
        del no_password["data"]["password"]
        await Secrets(h).create(no_password)
        await eventually(
            lambda: (
                (h.ready("Camera", "gate") or {}).get("message")
                == "credentials: Secret default/gate-camera: has no key password"
            )
        )
        assert h.emu.path_names() == []


async def test_without_read_secrets_no_secret_is_asked_for(tmp_path: Path) -> None:
    async with operator(tmp_path, read_secrets=False) as h:
        await Secrets(h).create(secret(PASSWORD))
        for doc in (CAMERA, STREAM):
            await h.create(dict(doc))
        await eventually(lambda: reason(h, "Camera", "gate") == "CredentialsUnavailable")
        ready = h.ready("Camera", "gate") or {}
        assert "--read-secrets" in ready["message"]
        assert h.emu.path_names() == []
        asked = [r for r in h.operator_requests() if r.resource and r.resource.plural == "secrets"]
        assert asked == []


def component_rules() -> set[tuple[str, str, str]]:
    return granted(COMPONENT / "rbac.yaml")


async def test_the_component_grants_exactly_what_reading_secrets_adds(tmp_path: Path) -> None:
    if not REQUESTS:  # run alone: make the requests first
        await test_a_secret_gives_the_path_its_credentials_and_rotation_converges_it(tmp_path)
    assert component_rules() == {("", "secrets", verb) for verb in ("get", "list", "watch")}
    assert used(REQUESTS) <= granted() | component_rules()
    assert used(REQUESTS) - granted() == component_rules()
