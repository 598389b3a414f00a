"""The Python client (async and sync) and `camctl get` / `camctl status --server`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from test_view import TOKEN, View, serving

from controller.api.kinds import Stream
from controller.testing.harness import eventually
from controller.view.client import AsyncViewClient, RPCError, TransportError, ViewClient
from controller.view.commands import get, status_from_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[View]:
    async with serving(tmp_path_factory.mktemp("client")) as v:
        yield v


async def test_async_client_is_typed(view: View) -> None:
    async with AsyncViewClient(view.url, TOKEN) as client:
        streams = await client.streams(label_selector=None)
        assert all(isinstance(s, Stream) for s in streams)
        assert [s.metadata.name for s in streams] == ["front-door", "garage", "workshop", "yard"]
        front = await client.stream("front-door")
        assert front.status and front.status.urls
        assert front.status.urls.rtsp.endswith("/cams/front-door")
        garage = await client.cameras(label_selector="zone=garage")
        assert [c.metadata.name for c in garage] == ["garage"]
        assert (await client.plan()).converged
        assert (await client.controller()).mediamtx_reachable
        assert (await client.devices())[0].claimed_by == "Camera/front-door"
        assert {p.name for p in await client.paths(owned=True)} >= {"cams/front-door"}
        assert (await client.events(limit=2)).events[0].seq == 1
        assert "methods" in await client.discover()
        results = await client.batch([("ping", None), ("streams.get", {"name": "nope"})])
        assert results[0] == "pong" and isinstance(results[1], RPCError)
        with pytest.raises(RPCError) as missing:
            await client.camera("nope")
        assert missing.value.code == -32004


async def test_paging_is_followed(view: View) -> None:
    async with AsyncViewClient(view.url, TOKEN) as client:
        pages = await client._all(
            "streams.list",
            type(None) and __import__("controller.view.models", fromlist=["StreamList"]).StreamList,
            {"limit": 1},
        )
        assert len(pages) == 4


async def test_wrong_token_and_unreachable(view: View) -> None:
    async with AsyncViewClient(view.url, "wrong") as client:
        with pytest.raises(RPCError) as refused:
            await client.streams()
        assert refused.value.code == -32001
    async with AsyncViewClient("http://127.0.0.1:9", TOKEN, timeout=2) as client:
        with pytest.raises(TransportError):
            await client.streams()


async def test_sync_client_and_its_subscription(view: View) -> None:
    received: list[str] = []

    def watch() -> None:
        with ViewClient(view.url, TOKEN) as client:
            assert len(client.streams()) == 4
            for event in client.subscribe(kinds=["Recording"]):
                received.append(f"{event.type} {event.kind}/{event.name}")
                return

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        await eventually(
            lambda: any(getattr(s, "subscriptions", None) for s in view.run.view.state.listeners)
        )
        recordings = view.docs / "recordings.yaml"
        recordings.write_text(recordings.read_text().replace("retention: 2d", "retention: 3d"))
        await eventually(lambda: bool(received))
    finally:
        await asyncio.to_thread(thread.join, 10)
    assert received == ["MODIFIED Recording/garage"]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(get, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def test_camctl_get(view: View, tmp_path: Path) -> None:
    tokens = tmp_path / "token"
    tokens.write_text(f"{TOKEN}\n")
    common = ["--server", view.url, "--token-file", str(tokens)]
    wide = await asyncio.to_thread(invoke, "streams", "-o", "wide", *common)
    lines = wide.splitlines()
    assert lines[0].split() == [
        "NAME",
        "READY",
        "REASON",
        "PATH",
        "READERS",
        "MODE",
        "RTSP",
        "DEVICE",
    ]
    front = lines[1].split()
    assert front[:5] == ["front-door", "True", "PathConfigured", "cams/front-door", "0"]
    assert front[6] == "rtsp://127.0.0.1:8554/cams/front-door"
    cams = await asyncio.to_thread(invoke, "cam", "-l", "zone=garage", *common)
    assert [line.split()[0] for line in cams.splitlines()] == ["NAME", "garage"]
    one = await asyncio.to_thread(invoke, "st", "garage", "-o", "json", *common)
    assert '"name": "garage"' in one
    devices = await asyncio.to_thread(invoke, "devices", *common)
    assert "Camera/workshop" in devices
    yaml = await asyncio.to_thread(invoke, "recordings", "-o", "yaml", *common)
    assert "kind: Recording" in yaml
    refused = await asyncio.to_thread(CliRunner().invoke, get, ["streams", "--server", view.url])
    assert refused.exit_code == 1 and "Authentication required" in refused.output


async def test_camctl_status_from_the_server(view: View, tmp_path: Path) -> None:
    tokens = tmp_path / "token"
    tokens.write_text(f"{TOKEN}\n")

    @click.command()
    @click.option("-o", "--output", default="text")
    def status(output: str) -> None:
        status_from_server(view.url, tokens, output)

    result = await asyncio.to_thread(CliRunner().invoke, status, [], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("controller edge-01: ")
    assert "MediaMTX v1.20.1: reachable" in result.output
    assert "Stream/front-door" in result.output and "PathConfigured" in result.output
