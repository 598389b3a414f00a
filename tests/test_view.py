"""The view against a running controller (emulator + simulated cameras): every method,
filters and paging, subscriptions, OpenRPC, health and metrics, and read-only-ness.

One controller and view serve the read-only tests of this module; tests that change
documents or devices start their own. Security and bad input: tests/test_view_security.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest

from controller.observe.mediamtx import MediaMTXError
from controller.testing.harness import Running, eventually, running
from controller.view.server import UNJOINED_FROM, served_methods

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "view-test-token-7f3a9c"
ADMIN_TOKEN = "view-admin-token-31c0e2"  # its line says admin: the old service's admin calls
SECRET = "hunter2-secret"
ELSEWHERE = """\
---
apiVersion: camctl.dev/v1alpha1
kind: Camera
metadata: {name: yard, labels: {site: farm}}
spec:
  node: other-node
  match: {serial: "NOPE"}
---
apiVersion: camctl.dev/v1alpha1
kind: Stream
metadata: {name: yard}
spec: {camera: yard, path: cams/yard}
"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def world(root: Path) -> tuple[Path, Path]:
    """The examples, one more Camera on another node, a token file; returns docs, devices."""
    docs = Path(shutil.copytree(ROOT / "examples" / "gitops", root / "docs"))
    (docs / "elsewhere.yaml").write_text(ELSEWHERE)
    devices = root / "dev" / "devices.yaml"
    devices.parent.mkdir()
    shutil.copy(ROOT / "examples" / "devices.yaml", devices)
    (root / "tokens").write_text(f"# view tokens\n{TOKEN}\n{ADMIN_TOKEN} admin\n")
    (root / "tokens").chmod(0o600)
    return docs, devices


@dataclass
class View:
    run: Running
    http: aiohttp.ClientSession
    docs: Path
    devices: Path

    @property
    def url(self) -> str:
        return self.run.url

    async def post(self, body: Any, token: str | None = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(f"{self.url}/rpc", data=data, headers=headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def call(self, method: str, params: Any = None, token: str | None = TOKEN) -> Any:
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": method}
        if params is not None:
            request["params"] = params
        _, answer = await self.post(request, token)
        assert answer["id"] == 7 and answer["jsonrpc"] == "2.0", answer
        return answer

    async def result(self, method: str, params: Any = None) -> Any:
        answer = await self.call(method, params)
        assert "error" not in answer, answer
        return answer["result"]

    async def ws(self, path: str = "/rpc/ws", token: str | None = TOKEN) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.ws_connect(f"{self.url}{path}", headers=headers)


@asynccontextmanager
async def serving(
    root: Path, prepare: Callable[[Path], None] | None = None, **options: Any
) -> AsyncIterator[View]:
    """A controller and its view on `world(root)`; `prepare(docs)` may edit the documents
    before the first pass; `options` go to `running` (settings=…, limits=…)."""
    docs, devices = world(root)
    if prepare is not None:
        prepare(docs)
    async with (
        running(docs, devices, root / "state", token_file=root / "tokens", **options) as run,
        aiohttp.ClientSession() as http,
    ):
        view = View(run, http, docs, devices)
        await eventually(lambda: bool(run.controller.health.last_success))
        await run.settle()  # the second pass reads readers and bytes of the new paths
        yield view


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[View]:
    """Shared by the read-only tests of this module: never change its documents."""
    async with serving(tmp_path_factory.mktemp("view")) as v:
        v.run.emulator.set_path("other/cam", {"source": f"rtsp://admin:{SECRET}@10.0.0.9/live"})
        await v.run.settle()
        yield v


def names(page: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in page["items"]]


# --- every method -----------------------------------------------------------------------

SAMPLE_PARAMS: dict[str, Any] = {
    "cameras.get": {"name": "front-door"},
    "streams.get": {"name": "garage"},
    "recordings.get": {"name": "front-door"},
    "recordings.segments": {"name": "front-door"},
    "get_camera_status": {"device": "/dev/video0"},
    "get_camera_capabilities": {"device": "/dev/video0"},
    "get_recording_info": {"filename": "x.mp4"},
    "get_snapshot_info": {"filename": "x.jpg"},
    "events.subscribe": {},
    "events.unsubscribe": {"subscription": "nope"},
    "authenticate": {"auth_token": TOKEN},
}
EXPECTED_ERRORS = {"get_recording_info": -1005, "get_snapshot_info": -1005}
# The old service kept these for admins; camctl's view tokens are viewers.
EXPECTED_ERRORS |= dict.fromkeys(["get_metrics", "get_status", "get_server_info",
                                  "get_storage_info"], -32003)  # fmt: skip
REFUSED = {"take_snapshot", "start_recording", "stop_recording", "delete_recording",
           "delete_snapshot", "set_retention_policy", "cleanup_old_files"}  # fmt: skip


async def test_openrpc_lists_exactly_the_served_methods_and_every_result_fits(view: View) -> None:
    document = await view.result("rpc.discover")
    listed = [m["name"] for m in document["methods"]]
    served = {m.name for m in served_methods()}
    assert sorted(listed) == sorted(served) == sorted(view.run.view.dispatcher.methods)
    assert document["openrpc"].startswith("1.")
    writes = view.run.emulator.write_count
    async with await view.ws() as ws:
        for method in document["methods"]:
            name = method["name"]
            request = {"jsonrpc": "2.0", "id": 1, "method": name,
                       "params": SAMPLE_PARAMS.get(name, {})}  # fmt: skip
            await ws.send_json(request)
            answer = json.loads(await ws.receive_str())
            if name in REFUSED:
                assert answer["error"]["code"] == -32003 and "declare" in answer["error"]["message"]
                assert answer["error"]["data"]["kind"] in ("Stream", "Recording")
            elif name in EXPECTED_ERRORS or name == "events.unsubscribe":
                assert answer.get("error", {}).get("code") == EXPECTED_ERRORS.get(name), answer
                assert answer.get("result") is not True
            else:
                assert "error" not in answer, (name, answer)
                schema = {**method["result"]["schema"], "components": document["components"]}
                jsonschema.validate(answer["result"], schema)
            for param in method["params"]:  # parameters are described by name, with schemas
                assert {"name", "required", "schema"} <= set(param)
    assert view.run.emulator.write_count == writes  # strictly read-only


async def test_lists_carry_spec_and_status(view: View) -> None:
    streams = await view.result("streams.list")
    assert names(streams) == ["front-door", "garage", "workshop", "yard"]
    front = streams["items"][0]
    assert front["status"]["urls"]["rtsp"].endswith("/cams/front-door")
    assert front["status"]["readers"] == 0
    assert front["spec"]["video"]["width"] == 1280
    assert "status" not in streams["items"][3]  # another node's camera: not planned here
    assert streams["total"] == 4 and streams["continue"] is None
    camera = await view.result("cameras.get", {"name": "front-door"})
    ready = next(c for c in camera["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and camera["status"]["device"]["node"] == "/dev/video0"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"labelSelector": "zone=garage"}, ["garage"]),
        ({"labelSelector": "zone in (garage, workshop)"}, ["garage", "workshop"]),
        ({"labelSelector": "site=home,zone!=garage"}, ["front-door", "workshop"]),
        ({"labelSelector": "!zone"}, ["yard"]),
        ({"labelSelector": "zone"}, ["front-door", "garage", "workshop"]),
        ({"node": "other-node"}, ["yard"]),
        ({"namespace": "default"}, ["front-door", "garage", "workshop", "yard"]),
        ({"namespace": "elsewhere"}, []),
    ],
)
async def test_label_node_and_namespace_filters(
    view: View, params: dict[str, Any], expected: list[str]
) -> None:
    assert names(await view.result("cameras.list", params)) == expected


async def test_node_filter_follows_streams_to_their_camera(view: View) -> None:
    assert names(await view.result("streams.list", {"node": "other-node"})) == ["yard"]


async def test_paging_with_continue_tokens(view: View) -> None:
    seen, token = [], None
    for _ in range(5):
        params = {"limit": 1} | ({"continue": token} if token else {})
        page = await view.result("streams.list", params)
        assert page["total"] == 4
        seen += names(page)
        token = page["continue"]
        if token is None:
            break
    assert seen == ["front-door", "garage", "workshop", "yard"]
    bad = await view.call("streams.list", {"continue": "not-a-token!"})
    assert bad["error"]["code"] == -32602


async def test_get_of_a_missing_resource(view: View) -> None:
    answer = await view.call("streams.get", {"name": "nope"})
    assert answer["error"]["code"] == -32004
    assert answer["error"]["data"] == {"kind": "Stream", "namespace": "default", "name": "nope"}


async def test_devices_say_which_camera_claims_them(view: View) -> None:
    devices = (await view.result("devices.list"))["items"]
    claims = {d["node"]: d["claimedBy"] for d in devices}
    assert claims == {
        "/dev/video0": "Camera/front-door",
        "/dev/video2": "Camera/garage",
        "/dev/video4": "Camera/workshop",
    }


async def test_paths_owned_or_not_and_secrets_redacted(view: View) -> None:
    paths = (await view.result("paths.list"))["items"]
    by_name = {p["name"]: p for p in paths}
    assert by_name["cams/front-door"]["owned"] and by_name["cams/front-door"]["config"]
    assert by_name["cams/front-door"]["stream"] == "Stream/front-door"
    other = by_name["other/cam"]
    assert other["owned"] is False and other["config"] is None
    assert other["source"] == "rtsp://<redacted>@10.0.0.9/live"
    owned = (await view.result("paths.list", {"owned": False}))["items"]
    assert [p["name"] for p in owned] == ["other/cam"]
    everything = json.dumps(await view.result("rpc.discover")) + json.dumps(paths)
    for method in ("events.list", "controller.status", "get_streams", "plan.get"):
        everything += json.dumps(await view.result(method))
    assert SECRET not in everything


async def test_plan_is_converged_and_controller_is_healthy(view: View) -> None:
    plan = await view.result("plan.get")
    assert plan == plan | {"converged": True, "actions": [], "mediamtxReachable": True}
    status = await view.result("controller.status")
    assert status["ready"] and status["mediamtxReachable"] and status["errors"] == []
    assert status["resources"] == {"Camera": 4, "Stream": 4, "Recording": 2}
    assert status["node"] == "edge-01" and status["passes"] >= 2


async def test_events_list_since(view: View) -> None:
    first = await view.result("events.list", {"limit": 3})
    assert [e["seq"] for e in first["events"]] == [1, 2, 3]
    assert first["events"][0]["type"] == "ADDED"
    rest = await view.result("events.list", {"since": 3, "limit": 1000})
    assert rest["events"][0]["seq"] == 4 and rest["latest"] == rest["events"][-1]["seq"]


async def test_batches_answer_in_order_and_skip_notifications(view: View) -> None:
    status, answer = await view.post([
        {"jsonrpc": "2.0", "id": "a", "method": "ping"},
        {"jsonrpc": "2.0", "method": "ping"},  # a notification: no answer
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
        {"jsonrpc": "2.0", "id": "c", "method": "cameras.get", "params": {"name": "garage"}},
        42,
    ])  # fmt: skip
    assert status == 200
    assert [a.get("id") for a in answer] == ["a", "b", "c", None]
    assert answer[0]["result"] == "pong" and answer[1]["error"]["code"] == -32601
    assert answer[2]["result"]["metadata"]["name"] == "garage"
    assert answer[3]["error"]["code"] == -32600
    status, nothing = await view.post([{"jsonrpc": "2.0", "method": "ping"}])
    assert (status, nothing) == (204, None)


async def test_a_large_answer_over_http_is_byte_for_byte_the_websockets(view: View) -> None:
    """A large answer leaves over HTTP in parts, its cached result not copied into a whole:
    the bytes are still those a WebSocket gets, and those json writes, whatever the id."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ws = await view.ws()
    for id_ in (1, -2, 2**70, 'a"\u00e9\u2028', None):
        request = json.dumps({"jsonrpc": "2.0", "id": id_, "method": "rpc.discover"})
        async with view.http.post(f"{view.url}/rpc", data=request, headers=headers) as response:
            body = await response.read()
            assert response.content_length == len(body)
        await ws.send_str(request)
        assert (await ws.receive_str()).encode() == body
        whole = {"jsonrpc": "2.0", "id": id_, "result": json.loads(body)["result"]}
        assert body == json.dumps(whole, separators=(",", ":")).encode()
    await ws.close()
    assert len(body) >= UNJOINED_FROM  # else this tests the joined answers only


async def test_not_ready_while_the_passes_fail(tmp_path: Path) -> None:
    """/readyz (a rollout's gate) is 503 while passes cannot reach MediaMTX, and says why."""
    async with serving(tmp_path) as v:
        v.run.emulator.fail_next(503, times=1000)
        await v.run.settle()
        async with v.http.get(v.url + "/readyz") as response:
            body = await response.json()
            assert response.status == 503 and body["ready"] is False
            assert body["reason"].startswith("the last pass did not succeed: ")
        v.run.emulator.stop_failing()
        await v.run.settle()
        async with v.http.get(v.url + "/readyz") as response:
            assert response.status == 200


async def test_health_readiness_and_metrics(view: View) -> None:
    for path, expected in (("/healthz", {"status": "ok"}), ("/readyz", {"ready": True})):
        async with view.http.get(view.url + path) as response:  # no token needed
            assert response.status == 200
            assert expected.items() <= (await response.json()).items()
    async with view.http.get(view.url + "/metrics") as response:
        assert response.status == 401
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with view.http.get(view.url + "/metrics", headers=headers) as response:
        text = await response.text()
    assert 'camctl_resource_ready{kind="Stream",name="front-door",namespace="default"} 1.0' in text
    assert 'camctl_resource_ready{kind="Stream",name="yard",namespace="default"} 0.0' in text
    assert 'camctl_passes_total{result="ok"}' in text
    assert 'camctl_stream_readers{name="garage",namespace="default",path="cams/garage"}' in text
    assert 'camctl_view_requests_total{method="streams.list",outcome="ok"}' in text


async def test_subscribe_needs_the_websocket(view: View) -> None:
    answer = await view.call("events.subscribe", {})
    assert answer["error"]["code"] == -32000 and "/rpc/ws" in answer["error"]["message"]


# --- live: each test its own controller --------------------------------------------------


async def next_event(ws: Any, timeout: float = 10) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive_str(), timeout))
        if message.get("method") == "events.event":
            event: dict[str, Any] = message["params"]["event"]
            return event


async def test_subscription_sees_a_file_edit_and_can_stop(tmp_path: Path) -> None:
    async with serving(tmp_path) as v, await v.ws() as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "events.subscribe",
                            "params": {"kinds": ["Recording"]}})  # fmt: skip
        subscription = json.loads(await ws.receive_str())["result"]["subscription"]
        recordings = v.docs / "recordings.yaml"
        recordings.write_text(recordings.read_text().replace("retention: 7d", "retention: 3d"))
        event = await next_event(ws)
        assert (event["type"], event["kind"], event["name"]) == (
            "MODIFIED",
            "Recording",
            "front-door",
        )
        assert event["object"]["spec"]["retention"] == "3d"
        await ws.send_json({"jsonrpc": "2.0", "id": 2, "method": "events.unsubscribe",
                            "params": {"subscription": subscription}})  # fmt: skip
        assert json.loads(await ws.receive_str()) == {"jsonrpc": "2.0", "id": 2, "result": True}


async def test_unplugged_camera_is_an_event_and_shows_in_lists(tmp_path: Path) -> None:
    async with serving(tmp_path) as v, await v.ws() as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "events.subscribe",
                            "params": {"kinds": ["Device"]}})  # fmt: skip
        await ws.receive_str()
        text = v.devices.read_text()
        v.devices.write_text(text[: text.index("  - node: /dev/video2")])
        event = await next_event(ws)
        assert (event["type"], event["name"]) == ("DELETED", "/dev/video2")
        await eventually(
            lambda: v.run.view.state.snapshot.by_ref and _reason(v, "garage") == "DeviceAbsent"
        )
        await eventually(lambda: "cams/garage" not in v.run.emulator.path_names())
        plan = await v.result("plan.get")
        assert plan["converged"] is True


def _reason(v: View, name: str) -> str:
    from controller.api.kinds import Ref

    doc = v.run.view.state.snapshot.by_ref[Ref("Camera", "default", name)]
    return str(next(c for c in doc["status"]["conditions"] if c["type"] == "Ready")["reason"])


async def test_metrics_follow_the_watchdog(tmp_path: Path) -> None:
    """camctl_stream_healthy and camctl_stream_restarts_total, before and after a stall."""

    def watch_front_door(docs: Path) -> None:
        streams = docs / "streams.yaml"
        front = "  mode: always              # runOnInit: ffmpeg runs all the time\n"
        streams.write_text(
            streams.read_text().replace(front, front + "  health: {stallAfter: 1s}\n")
        )

    async def metrics(v: View) -> str:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with v.http.get(v.url + "/metrics", headers=headers) as response:
            return await response.text()

    front = '{name="front-door",namespace="default",path="cams/front-door"}'
    async with serving(tmp_path, watch_front_door) as v:
        text = await metrics(v)
        assert f"camctl_stream_healthy{front} 1.0" in text
        assert f"camctl_stream_restarts_total{front} 0.0" in text
        assert 'camctl_stream_healthy{name="garage"' not in text, "onDemand, no readers: unwatched"
        assert "# TYPE camctl_stream_restarts_total counter" in text

        v.run.emulator.stall("cams/front-door")
        for _ in range(3):  # passes a second apart, as the resync makes them
            await v.run.settle()
            await asyncio.sleep(1.1)
        await eventually(lambda: not v.run.emulator.stalled("cams/front-door"))  # restarted
        await v.run.settle()
        text = await metrics(v)
        assert f"camctl_stream_restarts_total{front} 1.0" in text
        assert 'camctl_actions_total{op="restart",result="ok"} 1.0' in text
        stream = await v.result("streams.get", {"name": "front-door"})
        assert stream["status"]["restarts"] == 1 and stream["status"]["lastRestartTime"]
        plan = await v.result("plan.get")
        assert plan["converged"], "the restart is done: nothing left to do"


async def test_plan_shows_what_a_failed_pass_left_to_do(tmp_path: Path) -> None:
    async with serving(tmp_path) as v:

        async def refuse(name: str, conf: Any) -> None:
            raise MediaMTXError(f"PATCH {name}", 500, "injected failure")

        v.run.controller.client.patch_path_config = refuse  # type: ignore[method-assign]
        recordings = v.docs / "recordings.yaml"
        recordings.write_text(recordings.read_text().replace("retention: 7d", "retention: 3d"))
        await eventually(lambda: any("patch" in e for e in v.run.controller.health.errors))
        plan = await v.result("plan.get")
        assert [(a["op"], a["path"]) for a in plan["actions"]] == [("patch", "cams/front-door")]
        assert plan["actions"][0]["diff"]["recordDeleteAfter"]["to"] == "3d"
        assert plan["converged"] is False
