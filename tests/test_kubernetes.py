"""The Kubernetes operator through the real kopf, against kmock's Kubernetes API emulator.

Each test runs `Controller.run` with a `KubernetesSource` on one event loop, beside a kmock
API server and a MediaMTX emulator, and creates, changes and deletes resources through the
API once kopf watches them. kmock keeps objects but not Kubernetes' bookkeeping, so
`Cluster` adds what camctl relies on: uid, resourceVersion and generation, optimistic
concurrency (a stale resourceVersion is a 409), and conflicts to inject. Every request the
operator makes is kept, and the last test checks the ClusterRole of manifests/base
against them: every verb used is granted, and nothing else is.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import shutil
import signal
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp.test_utils
import kmock
import kopf
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from controller import wiring
from controller.api.device import Device
from controller.api.kinds import GROUP, PLURALS, VERSION
from controller.api.settings import Settings
from controller.cli import main
from controller.kit.redact import redact
from controller.observe import v4l2
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, Timing
from controller.sinks.kubernetes import finalizer_for
from controller.sources.kubernetes import (
    KubernetesSource,
    auth_headers,
    merge_patch,
    ssl_context,
)
from controller.testing.harness import eventually
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
NODE = "edge-01"
FINALIZER = f"paths.camctl.dev/{NODE}"
TIMING = Timing(resync=60, poll=60, drift=60, backoff_min=0.05, backoff_max=0.5, settle=0.2)
PASSWORD = "s3cret-Pa55"
FRONT_DOOR = [("Stream", "front-door"), ("Recording", "front-door")]
REQUESTS: list[kmock.Request] = []  # every request the operator made, for the RBAC test


# --- A Kubernetes API with the bookkeeping camctl relies on --------------------------


class QuickServer(aiohttp.test_utils.RawTestServer):
    """Stops at once even with watch streams open, as an API server that goes away does."""

    async def _make_runner(self, debug: bool = True, **kwargs: Any) -> Any:
        runner = await super()._make_runner(debug=debug, **kwargs)
        runner._shutdown_timeout = 0.05
        return runner


class Cluster(kmock.KubernetesEmulator):
    """kmock's emulator, plus uid, resourceVersion, generation and 409s."""

    versions = itertools.count(1)
    conflicts = 0  # status patches to refuse with 409 before any is accepted
    refused: list[str]

    async def _handle(self, request: kmock.Request) -> Any:
        if request.resource is not None and isinstance(request.data, dict):
            if request.action == kmock.action.CREATE:
                self._created(request.data)
            elif request.action == kmock.action.UPDATE:
                self._patched(request)
        return await super()._handle(request)

    def _created(self, data: dict[str, Any]) -> None:
        meta = data.setdefault("metadata", {})
        meta.update(uid=str(uuid.uuid4()), resourceVersion=str(next(self.versions)))
        meta.update(generation=1, creationTimestamp=datetime.now(UTC).isoformat())

    def _patched(self, request: kmock.Request) -> None:
        assert request.resource is not None
        current = self.objects[request.resource, request.namespace, str(request.name)]
        meta = request.data.setdefault("metadata", {})
        wanted = meta.get("resourceVersion")
        if request.subresource == "status" and self.conflicts:
            self.conflicts -= 1
            self._refuse(request, "injected")
        if wanted is not None and wanted != current["metadata"].get("resourceVersion"):
            self._refuse(request, "the object has been modified")
        if request.subresource == "status":  # only status changes through /status
            for key in set(request.data) - {"status", "metadata"}:
                del request.data[key]
        elif "spec" in request.data:
            meta["generation"] = current["metadata"].get("generation", 1) + 1
        meta["resourceVersion"] = str(next(self.versions))

    def _refuse(self, request: kmock.Request, why: str) -> None:
        if not hasattr(self, "refused"):
            self.refused = []
        self.refused.append(f"{request.method.value} {request.url.path}")
        raise kmock.KubernetesError(409, "Conflict", why)


# --- The harness ---------------------------------------------------------------------


class Devices:
    """Device facts from examples/devices.yaml; tests unplug and plug them."""

    def __init__(self) -> None:
        self.devices: list[Device] = v4l2.load_simulated(ROOT / "examples" / "devices.yaml")
        self.notify: Callable[[str], None] = lambda _: None

    def current(self) -> list[Device]:
        return list(self.devices)

    async def watch(self, notify: Callable[[str], None]) -> None:
        self.notify = notify
        await asyncio.Event().wait()

    def unplug(self, serial: str) -> None:
        self.devices = [d for d in self.devices if d.serial != serial]
        self.notify("devices: unplugged")


@dataclass
class Api:
    """The Kubernetes API as the tests use it: through HTTP for changes, kmock to look."""

    cluster: Cluster
    server: kmock.Server

    @property
    def api(self) -> aiohttp.ClientSession:
        return self.server.client

    async def create(self, document: dict[str, Any]) -> None:
        ns = document["metadata"].setdefault("namespace", "default")
        plural = PLURALS[document["kind"]]
        url = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{plural}"
        async with self.api.post(url, json=document) as response:
            assert response.status == 200, await response.text()

    async def patch(self, kind: str, name: str, changes: dict[str, Any]) -> None:
        url = f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURALS[kind]}/{name}"
        async with self.api.patch(url, json=changes) as response:
            assert response.status == 200, await response.text()

    async def delete(self, kind: str, name: str) -> None:
        url = f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURALS[kind]}/{name}"
        async with self.api.delete(url) as response:
            assert response.status == 200, await response.text()

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        key = (kmock.resource(GROUP, VERSION, PLURALS[kind]), "default", name)
        if key not in self.cluster.objects or self.cluster.objects[key].deleted:
            return None
        return copy.deepcopy(self.cluster.objects[key].raw)

    def must(self, kind: str, name: str) -> dict[str, Any]:
        found = self.get(kind, name)
        assert found is not None, f"{kind}/{name} does not exist"
        return found

    def ready(self, kind: str, name: str) -> dict[str, Any] | None:
        obj = self.get(kind, name) or {}
        conditions = (obj.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Ready"), None)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = [
            o.raw
            for (res, _, _), o in self.cluster.objects.items()
            if res == "v1/events" and not o.deleted
        ]
        return [e for e in found if name is None or e["involvedObject"]["name"] == name]

    def reasons(self, name: str) -> list[str]:
        return [e["reason"] for e in self.events(name)]

    def operator_requests(self) -> list[kmock.Request]:
        agents = ("kopf/", "camctl/")
        return [r for r in self.cluster if r.headers.get("User-Agent", "").startswith(agents)]

    def status_patches(self, name: str) -> int:
        return sum(
            1
            for r in self.operator_requests()
            if r.method == "PATCH" and r.subresource == "status" and r.name == name
        )

    async def restart_api(self, down: Callable[[], Any] | None = None) -> None:
        """The API server goes away (open watches break), `down` runs, and it comes back."""
        port = self.server.port
        await self.server.__aexit__(None, None, None)
        try:
            if down is not None:
                await down()
        finally:
            self.server = kmock.Server(self.cluster, port=port, server_cls=QuickServer)
            await self.server.__aenter__()


@dataclass
class Harness(Api):
    """A controller with a KubernetesSource, the API and MediaMTX it talks to."""

    emu: MediaMTXEmulator
    source: KubernetesSource
    controller: Controller
    devices: Devices
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def documents(*names: str, node: str | None = NODE) -> list[dict[str, Any]]:
    """The example documents (cameras first), their Cameras on `node`."""
    docs = []
    for file in ("cameras.yaml", "streams.yaml", "recordings.yaml"):
        for doc in YAML(typ="safe").load_all((EXAMPLES / file).read_text()):
            if doc and (not names or doc["metadata"]["name"] in names):
                if doc["kind"] == "Camera" and node is not None:
                    doc["spec"]["node"] = node
                docs.append(doc)
    return docs


async def passes(h: Harness) -> None:
    """Wait for a whole pass that starts after now."""
    reason = f"test {next(_unique)}"
    h.controller.trigger(reason)
    await eventually(lambda: reason in h.controller.health.last_reasons, 5)


@asynccontextmanager
async def operator(
    tmp_path: Path, node: str = NODE, *, claim_unassigned: bool = False, users: Any = None
) -> AsyncIterator[Harness]:
    """A controller for `node` on a fresh cluster and MediaMTX; stopped when the block ends."""
    async with Cluster() as cluster:
        declare(cluster)
        server = kmock.Server(cluster, server_cls=QuickServer)
        await server.__aenter__()
        emu = MediaMTXEmulator(users=users)
        await emu.start()
        user, password = users[0] if users else (None, None)
        harness: Harness | None = None
        try:
            async with MediaMTXClient(emu.url or "", user=user, password=password) as client:
                harness = await _start(
                    cluster, server, emu, client, tmp_path, node, claim_unassigned
                )
                yield harness
                await stopped(harness)
        finally:
            REQUESTS.extend(harness.operator_requests() if harness else [])
            await emu.stop()
            await (harness.server if harness else server).__aexit__(None, None, None)


async def stopped(h: Harness) -> None:
    h.stop.set()
    if (task := _tasks.pop(id(h), None)) is not None:
        await asyncio.wait_for(task, 5)


def declare(cluster: Cluster) -> None:
    """The resources the API serves (kopf discovers them; without namespaces it waits)."""
    cluster.resources["v1/namespaces"] = kmock.ResourceInfo(namespaced=False, kind="Namespace")
    for kind, plural in PLURALS.items():
        cluster.resources[f"{GROUP}/{VERSION}/{plural}"] = kmock.ResourceInfo(
            namespaced=True, kind=kind, subresources={"status"}, verbs={"list", "watch"}
        )


_tasks: dict[int, asyncio.Task[None]] = {}
_unique = itertools.count()


async def _start(
    cluster: Cluster,
    server: kmock.Server,
    emu: MediaMTXEmulator,
    client: MediaMTXClient,
    tmp_path: Path,
    node: str,
    claim_unassigned: bool,
) -> Harness:
    url = str(server.url).rstrip("/")  # the same after a restart: the port is kept
    state = tmp_path / f"state-{node}"
    source, sink = wiring.kubernetes(
        node,
        claim_unassigned=claim_unassigned,
        login=lambda **_: kopf.ConnectionInfo(server=url),
        relist_interval=0.3,
        first_list_after=0.1,
        conflict_retry=0.05,
        unreachable_retry=0.1,
    )
    assert isinstance(source, KubernetesSource)
    source.settings.networking.error_backoffs = [0.05, 0.1, 0.2]
    source.settings.watching.reconnect_backoff = 0.05
    devices = Devices()
    settings = Settings(node_name=node, public_host="edge-01.example")
    parts = wiring.Parts(source, devices, state, settings, TIMING, sinks=[sink])
    controller = wiring.controller(parts, client)
    harness = Harness(cluster, server, emu, source, controller, devices)
    _tasks[id(harness)] = asyncio.create_task(controller.run(harness.stop))

    await eventually(lambda: _watched(cluster))
    return harness


def _watched(cluster: Cluster) -> bool:
    """kopf watches all three kinds"""
    watches = [r for r in cluster if r.action == kmock.action.WATCH and r.resource]
    return set(PLURALS.values()) <= {r.resource.plural for r in watches if r.resource}


def healthy(h: Api, stream: str) -> str | None:
    """The status of the Stream's Healthy condition, as the API has it."""
    conditions = ((h.get("Stream", stream) or {}).get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conditions if c["type"] == "Healthy"), None)


def converged(h: Api, *names: tuple[str, str]) -> bool:
    return all((h.ready(kind, name) or {}).get("status") == "True" for kind, name in names)


# --- Tests ---------------------------------------------------------------------------


async def test_resources_converge_with_status_events_and_finalizers(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in documents():
            await h.create(doc)

        def all_ready() -> bool:
            """every example resource is Ready"""
            return converged(
                h,
                *[("Camera", n) for n in ("front-door", "garage", "workshop")],
                *[("Stream", n) for n in ("front-door", "garage", "workshop")],
                *[("Recording", n) for n in ("front-door", "garage")],
            )

        await eventually(all_ready)
        assert h.emu.path_names() == ["cams/front-door", "cams/garage", "cams/workshop"]
        camera, stream = h.get("Camera", "front-door"), h.get("Stream", "front-door")
        assert camera and stream
        assert camera["status"]["observedGeneration"] == camera["metadata"]["generation"] == 1
        assert camera["status"]["device"]["node"] == "/dev/video0"
        assert stream["status"]["urls"]["rtsp"] == "rtsp://edge-01.example:8554/cams/front-door"
        assert stream["metadata"]["finalizers"] == [FINALIZER]
        await eventually(lambda: "PathAdded" in h.reasons("front-door"))
        assert "DeviceFound" in h.reasons("front-door")
        added = next(e for e in h.events("front-door") if e["reason"] == "PathAdded")
        assert added["type"] == "Normal"
        assert added["involvedObject"]["kind"] == "Stream"
        assert added["source"] == {"component": "camctl", "host": NODE}

        # Converged: another pass writes nothing to Kubernetes, nor to MediaMTX. The pass
        # after the adds is the first to see the paths publishing (Healthy); its writes (and
        # their retries after a conflict) come first.
        await passes(h)  # let the pass under way finish its writes
        await eventually(lambda: all(healthy(h, n) == "True" for n in ("front-door", "workshop")))
        await passes(h)
        requests, writes = len(h.operator_requests()), h.emu.write_count
        await passes(h)
        late = [r for r in h.operator_requests()[requests:] if r.method != "GET"]
        assert late == [], [(r.url.path, r.data) for r in late]
        assert h.emu.write_count == writes

        # An edit: the path is patched, and the status follows the new generation.
        await h.patch("Stream", "front-door", {"spec": {"video": {"fps": 15}}})
        await eventually(lambda: "-framerate 15" in h.emu.stored("cams/front-door")["runOnInit"])
        await eventually(
            lambda: h.must("Stream", "front-door")["status"]["observedGeneration"] == 2
        )
        await eventually(lambda: "PathUpdated" in h.reasons("front-door"))

        # A delete waits on the finalizer until the path is gone from MediaMTX.
        await h.delete("Stream", "garage")
        await eventually(lambda: h.get("Stream", "garage") is None)
        assert "cams/garage" not in h.emu.path_names()
        assert "PathDeleted" in h.reasons("garage")
        # Its Recording now hangs off nothing: no node owns it, nothing is written to it.
        assert h.get("Recording", "garage") is not None


async def test_ready_changes_are_written_first_and_events_after_the_statuses(
    tmp_path: Path,
) -> None:
    """One pass finds garage's camera plugged in (its Camera and Stream get Ready) and is
    the first to see front-door's video (only its Healthy changes). The Ready statuses are
    written first, the other one after them, and the Events after all of them."""
    async with operator(tmp_path) as h:
        h.emu.runtime["cams/front-door"] = {"ready": False}  # no video yet
        h.devices.unplug("5F3A1B20")  # garage's camera
        for doc in [*documents("front-door")[:2], *documents("garage")[:2]]:
            await h.create(doc)
        await eventually(lambda: converged(h, ("Stream", "front-door")))
        await eventually(lambda: (h.ready("Stream", "garage") or {}).get("status") == "False")
        await passes(h)
        await passes(h)  # the one before has written everything; this one finds nothing
        assert healthy(h, "front-door") == "Unknown"
        before = len(h.operator_requests())

        del h.emu.runtime["cams/front-door"]
        h.devices.devices = Devices().devices
        h.devices.notify("devices: plugged")
        await eventually(lambda: "PathAdded" in h.reasons("garage"))
        writes = [
            (r.method.value, r.resource.plural if r.resource else "", r.name, r.subresource)
            for r in h.operator_requests()[before:]
            if r.method != "GET"
        ]
        assert writes == [
            ("PATCH", "cameras", "garage", "status"),
            ("PATCH", "streams", "garage", "status"),
            ("PATCH", "streams", "front-door", "status"),  # Healthy only
            *[("POST", "events", None, None)] * 3,  # garage's Ready changes, its PathAdded
        ]
        assert healthy(h, "front-door") == "True"


async def test_a_stalled_publisher_is_restarted_with_an_event(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in documents("front-door"):
            if doc["kind"] == "Stream":
                doc["spec"]["health"] = {"stallAfter": "1s"}
            await h.create(doc)
        await eventually(lambda: converged(h, ("Camera", "front-door"), *FRONT_DOOR))
        h.emu.stall("cams/front-door")  # ffmpeg hangs: connected, no bytes
        for _ in range(3):  # passes a second apart, as the resync makes them
            await passes(h)
            await asyncio.sleep(1.1)

        await eventually(lambda: "PublisherRestarted" in h.reasons("front-door"))
        event = next(e for e in h.events("front-door") if e["reason"] == "PublisherRestarted")
        assert event["type"] == "Warning" and event["involvedObject"]["kind"] == "Stream"
        assert event["message"] == (
            "recreated MediaMTX path 'cams/front-door': its publisher had stalled"
        )
        assert not h.emu.stalled("cams/front-door"), "recreated: the publisher sends again"
        await eventually(lambda: h.must("Stream", "front-door")["status"].get("restarts") == 1)
        status = h.must("Stream", "front-door")["status"]
        assert status["lastRestartTime"]
        assert [e["reason"] for e in h.events("front-door")].count("PublisherRestarted") == 1


async def test_nothing_declared_is_known_as_such(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        await eventually(lambda: h.source.synced)
        await passes(h)
        assert h.controller.health.errors == []
        await h.create(documents("front-door")[0])
        await eventually(lambda: converged(h, ("Camera", "front-door")))


async def test_a_restarted_controller_rewrites_nothing(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in documents("front-door"):
            await h.create(doc)
        await eventually(lambda: converged(h, ("Camera", "front-door"), *FRONT_DOOR))
        await passes(h)
        await stopped(h)
        requests, writes = len(h.operator_requests()), h.emu.write_count
        async with MediaMTXClient(h.emu.url or "") as client:
            again = await _start(h.cluster, h.server, h.emu, client, tmp_path, NODE, False)
            await eventually(lambda: again.source.synced)
            await passes(again)
            await stopped(again)
        late = [r for r in h.operator_requests()[requests:] if r.method != "GET"]
        assert late == [], [(r.url.path, r.data) for r in late]
        assert h.emu.write_count == writes


async def test_a_node_that_lost_its_state_directory_reads_its_paths_back_from_the_api(
    tmp_path: Path,
) -> None:
    """Ownership is recorded in the cluster too (a Stream's status: path and node): a node
    whose state directory is gone, even with a path changed behind its back meanwhile, takes
    back its paths from the API instead of calling them conflicts."""
    async with operator(tmp_path) as h:
        for doc in documents("front-door"):
            await h.create(doc)
        await eventually(lambda: converged(h, ("Camera", "front-door"), *FRONT_DOOR))
        assert h.must("Stream", "front-door")["status"]["node"] == NODE
        await passes(h)
        await stopped(h)
        shutil.rmtree(tmp_path / f"state-{NODE}")
        drifted = {**h.emu.stored("cams/front-door"), "runOnInit": "changed behind its back"}
        h.emu.set_path("cams/front-door", drifted)
        async with MediaMTXClient(h.emu.url or "") as client:
            again = await _start(h.cluster, h.server, h.emu, client, tmp_path, NODE, False)
            await eventually(lambda: again.source.synced)
            await eventually(lambda: "ffmpeg" in h.emu.stored("cams/front-door")["runOnInit"])
            await passes(again)
            ready = again.ready("Stream", "front-door") or {}
            assert ready.get("reason") == "PathConfigured"
            owned = Inventory(tmp_path / f"state-{NODE}").load()
            assert set(owned) == {"cams/front-door"}
            await stopped(again)


async def test_only_this_nodes_cameras_and_what_hangs_off_them(tmp_path: Path) -> None:
    ours = documents("front-door")
    theirs = documents("garage", node="edge-02")
    unassigned = documents("workshop", node=None)
    async with operator(tmp_path) as h:
        for doc in [*ours, *theirs, *unassigned]:
            await h.create(doc)
        await eventually(lambda: converged(h, *FRONT_DOOR))
        await passes(h)
        assert h.emu.path_names() == ["cams/front-door"]
        for name in ("garage", "workshop"):
            for kind in ("Camera", "Stream"):
                obj = h.get(kind, name) or {}
                assert "status" not in obj, f"{kind}/{name} was written"
                assert not obj.get("metadata", {}).get("finalizers")
            assert h.events(name) == []

    async with operator(tmp_path, "edge-03", claim_unassigned=True) as h:
        for doc in unassigned:
            await h.create(doc)
        await eventually(lambda: converged(h, ("Camera", "workshop"), ("Stream", "workshop")))
        assert h.must("Stream", "workshop")["metadata"]["finalizers"] == [
            "paths.camctl.dev/edge-03"
        ]


async def test_an_invalid_spec_is_reported_and_never_deletes(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in documents("front-door"):
            await h.create(doc)
        await eventually(lambda: converged(h, *FRONT_DOOR))
        await passes(h)
        before = h.emu.stored("cams/front-door")

        # Valid for the API server, refused by camctl: the last valid spec stays in force.
        await h.patch("Stream", "front-door", {"spec": {"video": {"codec": "copy"}}})

        def reported() -> bool:
            """the Stream says InvalidSpec"""
            return (h.ready("Stream", "front-door") or {}).get("reason") == "InvalidSpec"

        await eventually(reported)
        stream = h.get("Stream", "front-door")
        assert stream
        assert stream["status"]["observedGeneration"] == 2
        stalled = next(c for c in stream["status"]["conditions"] if c["type"] == "Stalled")
        assert stalled["status"] == "True"
        assert "codec: copy needs input: h264" in stalled["message"]
        await eventually(lambda: "InvalidSpec" in h.reasons("front-door"))
        warning = next(e for e in h.events("front-door") if e["reason"] == "InvalidSpec")
        assert warning["type"] == "Warning"
        assert h.emu.stored("cams/front-door") == before
        assert "Stream/front-door: spec.video" in " ".join(h.controller.health.errors)

        # A Stream that was never valid creates nothing, and deletes nothing.
        bad = copy.deepcopy(documents("garage")[1])
        bad["spec"]["video"]["width"] = 641
        for doc in [documents("garage")[0], bad]:
            await h.create(doc)
        await eventually(lambda: (h.ready("Stream", "garage") or {}).get("reason") == "InvalidSpec")
        assert h.emu.path_names() == ["cams/front-door"]

        # Fixed: converges again.
        await h.patch("Stream", "front-door", {"spec": {"video": {"codec": "h264"}}})
        await eventually(lambda: converged(h, ("Stream", "front-door")))


async def test_a_conflict_on_a_status_patch_is_retried(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        h.cluster.conflicts = 1
        for doc in documents("front-door")[:1]:
            await h.create(doc)
        await eventually(lambda: converged(h, ("Camera", "front-door")))
        assert h.cluster.refused == [
            "PATCH /apis/camctl.dev/v1alpha1/namespaces/default/cameras/front-door/status"
        ]
        assert h.status_patches("front-door") == 2


async def test_the_api_going_away_and_coming_back(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in documents("front-door", "garage"):
            await h.create(doc)
        await eventually(lambda: converged(h, ("Stream", "garage"), ("Recording", "front-door")))
        assert h.emu.stored("cams/front-door")["record"] is True

        async def while_down() -> None:
            h.devices.unplug("5F3A1B20")  # the garage camera: MediaMTX still converges
            await eventually(lambda: "cams/garage" not in h.emu.path_names())
            await eventually(lambda: any("Kubernetes API" in e for e in h.controller.health.errors))
            key = (kmock.resource(GROUP, VERSION, "recordings"), "default", "front-door")
            h.cluster.objects[key].delete()  # deleted while nobody could watch

        await h.restart_api(while_down)

        def caught_up() -> bool:
            """the camera's status arrives, and the vanished Recording is noticed"""
            ready = h.ready("Camera", "garage") or {}
            recording = h.emu.stored("cams/front-door").get("record")
            return ready.get("reason") == "DeviceAbsent" and recording is False

        await eventually(caught_up)
        await eventually(lambda: not h.controller.health.errors)


async def test_secrets_stay_out_of_status_and_events(tmp_path: Path) -> None:
    async with operator(tmp_path, users=[("camctl", PASSWORD)]) as h:
        for doc in documents("front-door"):
            await h.create(doc)
        await eventually(lambda: converged(h, ("Stream", "front-door")))
        h.emu.fail_next(500, times=2)  # the next pass cannot read MediaMTX
        h.controller.trigger("test")
        await eventually(lambda: "MediaMTXUnreachable" in h.reasons("front-door"))
        await eventually(lambda: converged(h, ("Stream", "front-door")))
        for request in h.operator_requests():
            assert PASSWORD not in request.text
    assert redact("source rtsp://admin:hunter2@10.0.0.9:554/live failed") == (
        "source rtsp://<redacted>@10.0.0.9:554/live failed"
    )


async def test_stopping_cancels_the_operator_promptly(tmp_path: Path) -> None:
    async with operator(tmp_path) as h:
        for doc in documents("front-door")[:1]:
            await h.create(doc)
        await eventually(lambda: converged(h, ("Camera", "front-door")))
        started = time.monotonic()
        await stopped(h)
        assert time.monotonic() - started < 2.5


async def test_camctl_run_kubernetes_until_sigterm(tmp_path: Path) -> None:
    """The command line, as the DaemonSet runs it: login from a kubeconfig, stop on SIGTERM."""
    async with Cluster() as cluster:
        declare(cluster)
        async with kmock.Server(cluster, server_cls=QuickServer) as server:
            emu = MediaMTXEmulator()
            await emu.start()
            try:
                await _run_command(cluster, server, emu, tmp_path)
            finally:
                await emu.stop()
            agents = ("kopf/", "camctl/")
            REQUESTS.extend(
                r for r in cluster if r.headers.get("User-Agent", "").startswith(agents)
            )


async def _run_command(
    cluster: Cluster, server: kmock.Server, emu: MediaMTXEmulator, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG.format(server=str(server.url).rstrip("/")))
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "CAMCTL_NODE_NAME": NODE,
        "CAMCTL_MEDIAMTX_URL": emu.url or "",
        "CAMCTL_STATE_DIR": str(tmp_path / "state"),
        "CAMCTL_SIMULATE_DEVICES": str(ROOT / "examples" / "devices.yaml"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller",
        "run",
        "--kubernetes",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        h = Api(cluster, server)
        await eventually(lambda: _watched(cluster), 20)
        for doc in documents("front-door")[:2]:
            await h.create(doc)
        await eventually(lambda: converged(h, ("Stream", "front-door")), 20)
        assert h.must("Stream", "front-door")["metadata"]["finalizers"] == [FINALIZER]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = (await process.stdout.read()).decode() if process.stdout else ""
    assert "Kubernetes (all namespaces) as node edge-01" in output
    assert "stopped after" in output


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: kmock, cluster: {{server: "{server}"}}}}]
users: [{{name: camctl, user: {{token: not-a-secret}}}}]
contexts: [{{name: kmock, context: {{cluster: kmock, user: camctl}}}}]
current-context: kmock
"""


def test_the_writes_log_in_as_kopf_does() -> None:
    bearer = kopf.ConnectionInfo(server="https://k8s", token="abc")
    basic = kopf.ConnectionInfo(server="https://k8s", username="u", password="p")
    assert auth_headers(bearer) == {"Authorization": "Bearer abc"}
    assert auth_headers(basic) == {"Authorization": "Basic dTpw"}
    insecure = ssl_context(kopf.ConnectionInfo(server="https://k8s", insecure=True))
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    assert ssl_context(bearer).verify_mode == ssl.CERT_REQUIRED


def test_finalizer_names_fit_kubernetes_limits() -> None:
    assert finalizer_for("edge-01") == "paths.camctl.dev/edge-01"
    long = finalizer_for("n" * 200 + ".example.com")
    assert len(long.split("/")[1]) == 63
    assert long != finalizer_for("n" * 200 + ".example.org")


def test_merge_patch_removes_what_is_gone() -> None:
    old = {"device": {"node": "/dev/video0", "serial": "S1"}, "readers": 2}
    new = {"device": {"node": "/dev/video2"}}
    assert merge_patch(old, new) == {
        "device": {"node": "/dev/video2", "serial": None},
        "readers": None,
    }


def test_run_takes_paths_or_kubernetes() -> None:
    both = CliRunner().invoke(main, ["run", "--kubernetes", str(EXAMPLES)])
    neither = CliRunner().invoke(main, ["run"])
    for result in (both, neither):
        assert result.exit_code == 2
        assert "give PATHS, or --kubernetes (not both)" in result.output


# --- RBAC: granted exactly what the operator used ------------------------------------


def verb_of(request: kmock.Request) -> str:
    if request.method == "GET":
        if request.params.get("watch") == "true":
            return "watch"
        return "get" if request.name else "list"
    return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[
        request.method.value.upper()
    ]


def used(requests: list[kmock.Request]) -> set[tuple[str, str, str]]:
    found = set()
    for r in requests:
        if r.resource is None or r.resource.plural is None:  # discovery: /api, /apis/…
            assert r.method == "GET", r
            continue
        plural = f"{r.resource.plural}/{r.subresource}" if r.subresource else r.resource.plural
        found.add((r.resource.group or "", plural, verb_of(r)))
    return found


def granted(rbac: Path = ROOT / "manifests" / "base" / "rbac.yaml") -> set[tuple[str, str, str]]:
    """What the ClusterRole in `rbac` grants, as (group, resource, verb)."""
    (role,) = [d for d in YAML(typ="safe").load_all(rbac.read_text()) if d["kind"] == "ClusterRole"]
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


async def test_cluster_role_grants_exactly_what_the_operator_used(tmp_path: Path) -> None:
    if not REQUESTS:  # run alone: make the requests first
        await test_resources_converge_with_status_events_and_finalizers(tmp_path)
    assert used(REQUESTS) == granted()
