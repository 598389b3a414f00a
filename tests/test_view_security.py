"""The view under bad input and bad actors: tokens, limits, malformed requests, many
clients. Every answer is a proper JSON-RPC error, the server stays up, nothing changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_view import TOKEN, serving
from test_view import View as Client

from controller.kit.net import is_loopback
from controller.view import auth, httplog
from controller.view.server import Limits, View, ViewError, parse_address
from controller.view.ws import WsLimits

pytestmark = pytest.mark.anyio
LIMITS = Limits(
    max_body=16 * 1024,
    max_batch=20,
    ws=WsLimits(max_message=4096, max_connections=6, max_subscriptions=2, auth_timeout=0.3),
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    async with serving(tmp_path_factory.mktemp("security"), limits=LIMITS) as v:
        yield v


@pytest.fixture(autouse=True)
async def read_only(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Whatever a test sends, MediaMTX is not written to and the server still answers."""
    if "view" not in request.fixturenames:
        yield
        return
    v: Client = request.getfixturevalue("view")
    writes = v.run.emulator.write_count
    yield
    assert v.run.emulator.write_count == writes
    assert (await v.result("ping")) == "pong"


# --- tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", "", TOKEN[:-1]])
async def test_missing_or_wrong_token_is_refused(view: Client, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": "streams.list"}
    async with view.http.post(view.url + "/rpc", json=body, headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        answer = await response.json()
    assert answer == {"jsonrpc": "2.0", "id": 1, "error": answer["error"]}
    assert answer["error"]["code"] == -32001


async def test_other_schemes_and_per_call_tokens(view: Client) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "streams.list"}
    basic = {"Authorization": f"Basic {TOKEN}"}
    async with view.http.post(view.url + "/rpc", json=body, headers=basic) as response:
        assert response.status == 401
    per_call = await view.call("get_streams", {"auth_token": TOKEN}, token=None)
    assert len(per_call["result"]) == 4
    wrong = await view.call("get_streams", {"auth_token": "nope"}, token=None)
    assert wrong["error"]["code"] == -32001
    assert (await view.call("ping", token=None))["result"] == "pong"  # no token needed


async def test_tokens_rotate_without_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "RECHECK_SECONDS", 0.0)
    async with serving(tmp_path) as v:
        tokens = tmp_path / "tokens"
        tokens.write_text("second-token-abcdef\n\nthird-token-123456 \n")
        assert (await v.call("ping", token="second-token-abcdef"))["result"] == "pong"
        assert (await v.call("controller.status", token="third-token-123456"))["result"]
        assert (await v.call("controller.status"))["error"]["code"] == -32001  # the old one
        tokens.unlink()  # unreadable: fail closed
        assert (await v.call("controller.status", token="third-token-123456"))["error"]


async def test_without_a_token_file_only_loopback(tmp_path: Path) -> None:
    from test_view import world

    from controller.testing.harness import running

    docs, devices = world(tmp_path)
    async with running(docs, devices, tmp_path / "state") as run:
        with pytest.raises(ViewError, match="without a token file"):
            await View(run.controller).start("0.0.0.0", 0)
        async with aiohttp.ClientSession() as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            async with http.post(run.url + "/rpc", json=body) as response:
                assert (await response.json())["result"] == "pong"
            rebinding = {"Host": "evil.example:9990"}
            async with http.post(run.url + "/rpc", json=body, headers=rebinding) as response:
                assert response.status == 403
            cross = {"Origin": "http://evil.example"}
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(run.url + "/rpc/ws", headers=cross)
            async with http.ws_connect(run.url + "/ws", headers={"Origin": run.url}) as ws:
                await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "get_camera_list"})
                assert (await ws.receive_json())["result"]["total"] == 4


async def test_addresses() -> None:
    assert parse_address("127.0.0.1:9990") == ("127.0.0.1", 9990)
    assert parse_address("[::1]:80") == ("::1", 80)
    assert parse_address(":9990") == ("127.0.0.1", 9990)
    for bad in ("localhost", "host:port", "1.2.3.4:99999"):
        with pytest.raises(ViewError):
            parse_address(bad)
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


# --- malformed requests ------------------------------------------------------------------

BAD: list[tuple[Any, int]] = [
    (b"{", -32700),
    (b"\xff\xfe", -32700),
    (b"", -32700),
    (b"[" * 5000 + b"]" * 5000, -32700),
    ([], -32600),
    ("just a string", -32600),
    ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, -32600),
    ({"id": 1, "method": "ping"}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": 5}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": ""}, -32600),
    ({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}, -32600),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "ping", "extra": 1}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "no.such"}, -32601),
    ({"jsonrpc": "2.0", "id": 1, "method": "__init__"}, -32601),
    ({"jsonrpc": "2.0", "id": 1, "method": "streams.list", "params": [1]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "streams.list", "params": {"limit": 0}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "streams.list", "params": {"limit": "5"}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "streams.list", "params": {"bogus": 1}}, -32602),
    (
        {"jsonrpc": "2.0", "id": 1, "method": "streams.list", "params": {"labelSelector": "a=(b"}},
        -32602,
    ),
    ({"jsonrpc": "2.0", "id": 1, "method": "streams.get", "params": {}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "streams.get", "params": {"name": 5}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "list_recordings", "params": {"limit": 5000}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "get_camera_status", "params": {}}, -32602),
    (
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "get_camera_status",
            "params": {"device": "/dev/video99"},
        },
        -1000,
    ),
    ([{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(21)], -32600),
]


@pytest.mark.parametrize(("body", "code"), BAD, ids=range(len(BAD)))
async def test_malformed_requests_get_standard_errors(view: Client, body: Any, code: int) -> None:
    status, answer = await view.post(body)
    assert status == 200
    assert answer["jsonrpc"] == "2.0" and answer["error"]["code"] == code, answer
    assert set(answer) == {"jsonrpc", "id", "error"}
    text = json.dumps(answer)
    assert "Traceback" not in text and 'File "' not in text


async def test_a_huge_body_is_refused_whole(view: Client) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "a" * 20000}})
    status, answer = await view.post(body.encode())
    assert status == 413 and answer["error"]["code"] == -32600

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        for _ in range(100):
            yield b" " * 1024

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with view.http.post(view.url + "/rpc", data=chunks(), headers=headers) as response:
        assert response.status == 413


async def test_handler_failure_is_an_internal_error_without_details(view: Client) -> None:
    dispatcher = view.run.view.dispatcher
    method = dispatcher.methods["plan.get"]

    def broken(ctx: Any, params: Any) -> Any:
        raise RuntimeError("secret internals")

    dispatcher.methods["plan.get"] = type(method)(**{**vars(method), "handler": broken})
    try:
        answer = await view.call("plan.get")
    finally:
        dispatcher.methods["plan.get"] = method
    assert answer["error"] == {"code": -32603, "message": "Internal error"}


MALFORMED_AUTHORIZATION = [
    f"Authorization: Bearer {TOKEN}\x01",  # a control character in the value
    f"Authorization : Bearer {TOKEN}",  # a space before the colon
    f"Authori\x00zation: Bearer {TOKEN}",  # NUL in the name
    f"Authorization: Bearer {TOKEN}{'x' * 9000}",  # longer than a header may be
    f"Authorization: Bearer {TOKEN}\r\n folded",  # obsolete line folding
    f"Bearer {TOKEN}",  # no name at all
]


async def test_malformed_authorization_headers_never_reach_a_log(
    view: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp's parser errors quote the raw header line; its WebSocket code logs the
    subprotocols offered. Neither may put a token in a log, and garbage sent in a loop
    makes one line, not one per request."""
    caplog.set_level(logging.DEBUG)
    for name in ("camctl.view.http", *httplog.AIOHTTP_LOGS):  # as if the process had just started
        for quiet in logging.getLogger(name).filters:
            if isinstance(quiet, httplog.Quiet):
                quiet.throttle = httplog.Throttle()
    host, port = view.url.removeprefix("http://").rsplit(":", 1)
    for header in MALFORMED_AUTHORIZATION * 20:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"POST /rpc HTTP/1.1\r\nHost: {host}\r\n{header}\r\n\r\n".encode())
        assert (await reader.read()).startswith(b"HTTP/1.0 400 ")
        writer.close()
    async with view.http.ws_connect(view.url + "/rpc/ws", protocols=(TOKEN,)) as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert (await ws.receive_json())["result"] == "pong"

    text = caplog.text + "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert TOKEN not in text
    told = [r for r in caplog.records if r.name == "camctl.view.http"]
    assert len(told) == 1 and told[0].getMessage().startswith("Error handling request"), told
    offered = [r for r in caplog.records if r.name == "aiohttp.websocket"]
    assert len(offered) == 1 and httplog.HIDDEN in offered[0].getMessage()


# --- WebSockets ----------------------------------------------------------------------------


async def test_websocket_errors_limits_and_authentication(view: Client) -> None:
    async with await view.ws() as ws:
        await ws.send_str("{nope")
        assert (await ws.receive_json())["error"]["code"] == -32700
        await ws.send_bytes(b"{}")
        assert (await ws.receive_json())["error"]["code"] == -32600
        for i in range(3):
            await ws.send_json({"jsonrpc": "2.0", "id": i, "method": "events.subscribe"})
        answers = [await ws.receive_json() for _ in range(3)]
        assert "result" in answers[1] and answers[2]["error"]["code"] == -32002
        await ws.send_str("x" * 5000)  # larger than the message limit: closed
        message = await ws.receive()
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1009

    async with await view.ws(token=None) as ws:  # authenticate as the old service's clients do
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "get_camera_list"})
        assert (await ws.receive_json())["error"]["code"] == -32001
        await ws.send_json({"jsonrpc": "2.0", "id": 2, "method": "authenticate",
                            "params": {"auth_token": TOKEN, "auth_type": "api_key"}})  # fmt: skip
        assert (await ws.receive_json())["result"]["role"] == "viewer"
        await ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "get_camera_list"})
        assert (await ws.receive_json())["result"]["total"] == 4

    async with await view.ws(token=None) as ws:  # never authenticated: dropped
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1008


async def test_too_many_websocket_clients(view: Client) -> None:
    sockets = [await view.ws() for _ in range(6)]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await view.ws()
        assert refused.value.status == 503
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    async with await view.ws() as ws:  # room again once they left
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert (await ws.receive_json())["result"] == "pong"


async def test_a_subscriber_that_does_not_read_is_dropped(tmp_path: Path) -> None:
    limits = Limits(ws=WsLimits(send_queue=2))
    async with serving(tmp_path, limits=limits) as v, await v.ws() as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"})
        session = next(iter(v.run.view.state.listeners))
        await ws.receive_json()
        from controller.view.events import EventLog

        events = EventLog().record([("ADDED", "Device", None, f"/dev/x{i}", {}) for i in range(5)])
        session.notify(events, [])
        message = await ws.receive(timeout=5)
        while message.type == aiohttp.WSMsgType.TEXT:
            message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1008
