"""Slow and greedy clients against the view: a request's headers, body and answer each have
a deadline, connections are capped, cached answers are bounded, and a failed accept
(EMFILE) is logged once and then counted. What a low open-files limit does to a whole
`camctl run --view` process: tests/test_view_open_files.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_view import TOKEN, serving
from test_view import View as Client

from controller.testing.harness import eventually
from controller.view import state as view_state
from controller.view.server import Limits

pytestmark = pytest.mark.anyio
LIMITS = Limits(header_timeout=1.0, body_timeout=1.0, send_timeout=1.0)
SLOW = 300  # slow clients at once
MARGIN = 5.0  # seconds: wide, for a loaded machine


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    async with serving(tmp_path_factory.mktemp("limits"), limits=LIMITS) as v:
        yield v


def address(view: Client) -> tuple[str, int]:
    host, port = view.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


async def trickle(view: Client, head: bytes, every: float = 0.1) -> tuple[float, bytes]:
    """Send `head` one byte every `every` seconds until the server closes the connection:
    how long it stayed open, and what came back."""
    reader, writer = await asyncio.open_connection(*address(view))
    started = time.monotonic()

    async def send() -> None:
        for byte in head:
            writer.write(bytes([byte]))
            await asyncio.sleep(every)

    sending = asyncio.create_task(send())
    try:
        answer = await reader.read()
    except ConnectionResetError:
        answer = b""
    finally:
        sending.cancel()
        writer.close()
    return time.monotonic() - started, answer


# --- deadlines ----------------------------------------------------------------------------


async def test_slow_headers_are_cut_after_the_header_timeout(view: Client) -> None:
    listener = view.run.view.listener
    assert listener is not None
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    results = await asyncio.wait_for(
        asyncio.gather(*(trickle(view, head) for _ in range(SLOW))),
        LIMITS.header_timeout + MARGIN,  # before: all still open after 30 s
    )
    times = sorted(took for took, _ in results)
    assert times[0] >= LIMITS.header_timeout * 0.9, times[:5]  # cut by the timer, not refused
    assert all(answer == b"" for _, answer in results)  # no request, no answer
    await eventually(lambda: listener.open == 0, MARGIN)
    assert (await view.result("ping")) == "pong"


async def test_a_slow_body_gets_408_after_the_body_timeout(view: Client) -> None:
    head = (
        b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n".encode()
    )
    reader, writer = await asyncio.open_connection(*address(view))
    writer.write(head)
    took, answer = await asyncio.wait_for(
        trickle_on(reader, writer, b" " * 1000), LIMITS.body_timeout + MARGIN
    )
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert took >= LIMITS.body_timeout * 0.9


async def trickle_on(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[float, bytes]:
    started = time.monotonic()

    async def send() -> None:
        for byte in data:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.1)

    sending = asyncio.create_task(send())
    try:
        answer = await reader.read()
    finally:
        sending.cancel()
        writer.close()
    return time.monotonic() - started, answer


async def test_a_client_that_does_not_read_its_answer_is_dropped(view: Client) -> None:
    """A batch of 100 rpc.discover is ~5 MB: more than the kernel buffers while the client
    reads nothing; the send deadline then drops the connection and frees its slot."""
    listener = view.run.view.listener
    assert listener is not None
    await eventually(lambda: listener.open == 0, MARGIN)
    batch = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "rpc.discover"} for i in range(100)])
    request = (
        f"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(batch)}\r\n\r\n{batch}"
    ).encode()
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(address(view))
    try:
        client.sendall(request * 2)
        await eventually(lambda: listener.open == 1, MARGIN)
        await eventually(lambda: listener.open == 0, LIMITS.send_timeout + MARGIN)  # before: held
    finally:
        client.close()
    assert (await view.result("ping")) == "pong"


# --- the connection cap -------------------------------------------------------------------


async def test_connections_beyond_the_cap_wait_unaccepted(tmp_path: Path) -> None:
    limits = Limits(max_connections=20, header_timeout=30.0)
    async with serving(tmp_path, limits=limits) as v:
        listener = v.run.view.listener
        assert listener is not None and listener.capacity == 20
        idle = [socket.create_connection(address(v)) for _ in range(60)]
        try:
            await eventually(lambda: listener.open == 20, MARGIN)
            for _ in range(50):  # and never more
                await asyncio.sleep(0.01)
                assert listener.open == 20
            waiting = asyncio.create_task(v.result("ping"))
            await asyncio.sleep(0.5)
            assert not waiting.done()  # in the listen backlog: no descriptor spent on it
        finally:
            for sock in idle:
                sock.close()
        assert await asyncio.wait_for(waiting, MARGIN) == "pong"
        async with v.http.get(
            v.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r:
            metrics = await r.text()
        assert "camctl_view_connection_limit 20.0" in metrics


async def test_a_failed_accept_is_logged_once_then_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Real EMFILE: clients connect (the kernel queues them), then the open-files limit is
    lowered under the next free descriptor for a while, so every accept fails."""
    caplog.set_level(logging.WARNING, "camctl.view")
    async with serving(tmp_path) as v:
        listener = v.run.view.listener
        assert listener is not None
        await eventually(lambda: listener.open == 0, MARGIN)
        clients = [socket.create_connection(address(v)) for _ in range(5)]  # no await: queued
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowest_free = os.dup(0)
        os.close(lowest_free)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
        try:
            await asyncio.sleep(1.5)  # about six accept attempts, each EMFILE
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        try:
            await eventually(lambda: listener.open == 5, MARGIN)
        finally:
            for sock in clients:
                sock.close()
        async with v.http.get(
            v.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r:
            metrics = await r.text()
    told = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]
    assert "EMFILE" in told[0].getMessage()
    counted = next(
        line for line in metrics.splitlines() if line.startswith("camctl_view_accept_errors_total")
    )
    assert 'errno="EMFILE"' in counted and float(counted.split()[-1]) >= 3, counted


# --- the answer cache ---------------------------------------------------------------------

OTHERS = 100  # Streams of another node: big list answers without devices


def other_streams(docs: Path) -> None:
    (docs / "others.yaml").write_text(
        "".join(
            "---\napiVersion: camctl.dev/v1alpha1\nkind: Stream\n"
            f"metadata: {{name: other-{i:03d}, labels: {{site: far}}}}\n"
            f"spec: {{camera: other-{i:03d}, path: far/other-{i:03d}}}\n"
            "---\napiVersion: camctl.dev/v1alpha1\nkind: Camera\n"
            f"metadata: {{name: other-{i:03d}}}\n"
            f'spec: {{node: elsewhere, match: {{serial: "X{i:03d}"}}}}\n'
            for i in range(OTHERS)
        )
    )


def rss() -> int:
    """This process's resident memory in bytes (the view runs in it)."""
    status = Path("/proc/self/status").read_text()
    return (
        int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        * 1024
    )


async def answered(view: Client, batch: int, size: int) -> int:
    """Post `size` distinct streams.list requests (each answer the whole list): how many
    were answered. The answers are counted, not kept."""
    requests = [
        {"jsonrpc": "2.0", "id": i, "method": "streams.list",
         "params": {"limit": 1000, "labelSelector": f"site!=x{batch}-{i}"}}
        for i in range(size)
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with view.http.post(view.url + "/rpc", json=requests, headers=headers) as response:
        assert response.status == 200
        return (await response.read()).count(b',"result":{"items":[')


async def test_answers_cached_per_distinct_parameters_stay_bounded(tmp_path: Path) -> None:
    """2,000 distinct streams.list requests whose answers are each the whole list (~37 KB):
    before, the cache kept up to 1,023 of them (~37 MB) until the next pass."""
    async with serving(tmp_path, other_streams) as v:
        state = v.run.view.state
        size = len(json.dumps(await v.result("streams.list", {"limit": 1000})))
        assert size * 1000 > 3 * view_state.MAX_CACHED_BYTES  # the bound is what holds
        before = rss()
        for batch in range(80):
            assert await answered(v, batch, 25) == 25
            assert state.cached_bytes <= view_state.MAX_CACHED_BYTES
            assert state.cached_answers <= view_state.MAX_CACHED
        grown = rss() - before
        assert grown < view_state.MAX_CACHED_BYTES + 12 * 1024 * 1024, grown / 2**20
        again = await v.post({"jsonrpc": "2.0", "id": 1, "method": "streams.list"})
        assert again == await v.post({"jsonrpc": "2.0", "id": 1, "method": "streams.list"})
