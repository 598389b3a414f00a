"""The MediaMTX client against the emulator over real HTTP, and its failure messages."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from controller.observe.mediamtx import MediaMTXClient, MediaMTXError, PathNotFound
from controller.testing.mediamtx import MediaMTXEmulator

pytestmark = pytest.mark.anyio

PASSWORD = "Sup3r-s3cret-pw"
USERS = [("camctl", PASSWORD)]


@pytest.fixture
async def client(emu: MediaMTXEmulator) -> AsyncIterator[MediaMTXClient]:
    assert emu.url is not None
    async with MediaMTXClient(emu.url) as mediamtx:
        yield mediamtx


@pytest.fixture
async def secured() -> AsyncIterator[MediaMTXEmulator]:
    emulator = MediaMTXEmulator(users=USERS)
    await emulator.start()
    yield emulator
    await emulator.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- reads and writes ---------------------------------------------------------------------------
async def test_info(client: MediaMTXClient) -> None:
    assert (await client.info())["version"] == "v1.20.1"


async def test_list_follows_every_page(client: MediaMTXClient, emu: MediaMTXEmulator) -> None:
    client.page_size = 100
    for i in range(250):
        emu.set_path(f"cams/cam{i:03}", {"runOnInit": f"ffmpeg {i}"})
    configs = await client.list_path_configs()
    assert len(configs) == 250
    assert configs["cams/cam249"]["runOnInit"] == "ffmpeg 249"
    assert configs["cams/cam000"]["recordSegmentDuration"] == "1h0m0s"
    assert [r[1] for r in emu.requests] == [
        f"/v3/config/paths/list?page={page}&itemsPerPage=100" for page in range(3)
    ]
    assert len(await client.list_paths()) == 250


async def test_unchanged_pages_are_not_decoded_again(
    client: MediaMTXClient, emu: MediaMTXEmulator
) -> None:
    client.page_size = 2
    for i in range(5):
        emu.set_path(f"cam{i}", {"runOnInit": f"ffmpeg {i}"})
    first = await client.list_path_configs()
    fingerprint = await client.path_configs_fingerprint()
    again = await client.list_path_configs()
    assert again == first
    assert all(again[name] is first[name] for name in first)  # the same objects: not decoded
    emu.set_path("cam3", {"runOnInit": "ffmpeg changed"})  # on the second page of three
    changed = await client.list_path_configs()
    assert changed["cam3"]["runOnInit"] == "ffmpeg changed"
    assert changed["cam0"] is first["cam0"] and changed["cam3"] is not first["cam3"]
    assert await client.path_configs_fingerprint() != fingerprint
    for i in range(3, 5):  # three pages become two: the third is forgotten
        await client.delete_path_config(f"cam{i}")
    assert sorted(await client.list_path_configs()) == ["cam0", "cam1", "cam2"]
    assert [key[1] for key in client._pages if key[0] == "/v3/config/paths/list"] == [0, 1]


async def test_closes_returns_when_mediamtx_drops_its_connections(
    client: MediaMTXClient, emu: MediaMTXEmulator
) -> None:
    closed = asyncio.create_task(client.closes())
    await asyncio.sleep(0.1)
    assert not closed.done()  # idle, nothing sent: MediaMTX keeps it until it stops
    emu.restart()
    await asyncio.wait_for(closed, 5)
    assert emu.requests == []  # not an HTTP request


async def test_closes_raises_when_mediamtx_is_not_there() -> None:
    async with MediaMTXClient(f"http://127.0.0.1:{_closed_port()}") as client:
        with pytest.raises(MediaMTXError, match="cannot reach MediaMTX"):
            await client.closes()


async def test_empty_lists(client: MediaMTXClient, emu: MediaMTXEmulator) -> None:
    assert await client.list_path_configs() == {}
    assert await client.list_paths() == {}
    assert len(emu.requests) == 2


async def test_add_get_patch_replace_delete(client: MediaMTXClient, emu: MediaMTXEmulator) -> None:
    await client.add_path_config("cams/front", {"runOnInit": "ffmpeg", "runOnInitRestart": True})
    conf = await client.get_path_config("cams/front")
    assert conf["name"] == "cams/front" and conf["runOnInitRestart"] is True
    await client.patch_path_config("cams/front", {"record": True})
    assert emu.stored("cams/front") == {
        "runOnInit": "ffmpeg",
        "runOnInitRestart": True,
        "record": True,
    }
    await client.replace_path_config("cams/front", {"runOnInit": "other"})
    assert emu.stored("cams/front") == {"runOnInit": "other"}
    await client.delete_path_config("cams/front")
    assert emu.path_names() == [] and emu.write_count == 4


async def test_runtime_and_recordings(
    client: MediaMTXClient, emu: MediaMTXEmulator, record_path: str
) -> None:
    emu.set_path("cam1", {"runOnInit": "ffmpeg", "record": True, "recordPath": record_path})
    emu.record("cam1", datetime(2026, 1, 1, tzinfo=UTC))
    paths = await client.list_paths()
    assert paths["cam1"]["online"] is True
    recordings = await client.get_recordings("cam1")
    assert recordings == {"name": "cam1", "segments": [{"start": "2026-01-01T00:00:00Z"}]}


# --- failures -----------------------------------------------------------------------------------
async def test_404_is_path_not_found(client: MediaMTXClient) -> None:
    with pytest.raises(PathNotFound) as caught:
        await client.get_path_config("cams/nope")
    assert (
        str(caught.value) == "GET /v3/config/paths/get/cams/nope: 404 path configuration not found"
    )
    assert (caught.value.status, caught.value.error) == (404, "path configuration not found")
    for call in (client.patch_path_config("x", {}), client.delete_path_config("x")):
        with pytest.raises(PathNotFound, match="404 path not found"):
            await call


async def test_400_carries_mediamtx_message(client: MediaMTXClient) -> None:
    with pytest.raises(MediaMTXError) as caught:
        await client.add_path_config("cam1", {"recordPath": "./rec/%Y"})
    assert not isinstance(caught.value, PathNotFound)
    assert caught.value.call == "POST /v3/config/paths/add/cam1"
    assert caught.value.status == 400
    assert str(caught.value) == (
        "POST /v3/config/paths/add/cam1: 400 'recordPath' must contain %path"
    )
    await client.add_path_config("cam1", {})
    with pytest.raises(MediaMTXError, match="400 path already exists"):
        await client.add_path_config("cam1", {})


async def test_500(client: MediaMTXClient, emu: MediaMTXEmulator) -> None:
    emu.fail_next(500)
    with pytest.raises(MediaMTXError, match=r"^GET /v3/info: 500 injected failure$"):
        await client.info()
    emu.fail_next(500)
    with pytest.raises(MediaMTXError, match="500"):
        await client.list_path_configs()


async def test_connection_refused_is_clear() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with MediaMTXClient(url) as client:
        with pytest.raises(MediaMTXError) as caught:
            await client.info()
    assert caught.value.status is None
    assert str(caught.value).startswith(f"GET /v3/info: cannot reach MediaMTX at {url}: ")


async def test_timeout_is_clear(emu: MediaMTXEmulator) -> None:
    emu.delay = 1.0
    assert emu.url is not None
    async with MediaMTXClient(emu.url, timeout=0.1) as client:
        with pytest.raises(
            MediaMTXError, match=r"cannot reach MediaMTX at .*: timed out after 0.1s"
        ):
            await client.info()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def answering(handler: Handler) -> AsyncIterator[str]:
    """A server on a free local port that answers every request with `handler`; its URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _fixed(status: int, content: bytes, content_type: str = "text/html") -> Handler:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=content, content_type=content_type)

    return answer


@pytest.mark.parametrize(
    ("status", "content", "expected"),
    [
        (
            502,
            b"<html><body>Bad   gateway</body></html>",
            "502 <html><body>Bad gateway</body></html>",
        ),
        (503, b"", "503 Service Unavailable"),
        (400, b'{"status": "error"}', '400 {"status": "error"}'),
    ],
)
async def test_non_json_error_bodies(status: int, content: bytes, expected: str) -> None:
    async with answering(_fixed(status, content)) as url, MediaMTXClient(url) as client:
        with pytest.raises(MediaMTXError) as caught:
            await client.info()
    assert str(caught.value) == f"GET /v3/info: {expected}"


async def test_unexpected_success_bodies() -> None:
    async with answering(_fixed(200, b"<html>")) as url, MediaMTXClient(url) as client:
        with pytest.raises(MediaMTXError, match="GET /v3/info: 200 unexpected response"):
            await client.info()
    items = b'{"itemCount": 1, "pageCount": 1, "items": "nope"}'
    async with (
        answering(_fixed(200, items, "application/json")) as url,
        MediaMTXClient(url) as client,
    ):
        with pytest.raises(MediaMTXError, match="unexpected response"):
            await client.list_paths()


async def test_names_are_quoted_with_slashes_kept() -> None:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.json_response({"status": "ok"})

    async with answering(answer) as url, MediaMTXClient(url) as client:
        await client.delete_path_config("site a/cam?1#x%y/ü")
        with pytest.raises(ValueError, match="must not be empty"):
            await client.get_path_config("")
    assert seen == ["/v3/config/paths/delete/site%20a/cam%3F1%23x%25y/%C3%BC"]


async def test_base_url_with_prefix() -> None:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        if request.path.endswith("/list"):
            return web.json_response({"pageCount": 1, "items": []})
        return web.json_response({"version": "v1.20.1"})

    async with answering(answer) as url, MediaMTXClient(f"{url}/mediamtx/") as client:
        await client.info()
        client.page_size = 7
        await client.list_paths()
    assert seen == ["/mediamtx/v3/info", "/mediamtx/v3/paths/list?page=0&itemsPerPage=7"]


# --- credentials --------------------------------------------------------------------------------
async def test_basic_auth_from_env(secured: MediaMTXEmulator) -> None:
    assert secured.url is not None
    env = {"CAMCTL_MEDIAMTX_USER": "camctl", "CAMCTL_MEDIAMTX_PASSWORD": PASSWORD}
    async with MediaMTXClient.from_env(secured.url, env) as client:
        assert (await client.info())["version"] == "v1.20.1"
    async with MediaMTXClient.from_env(secured.url, {}) as anonymous:
        with pytest.raises(MediaMTXError, match="401 authentication error"):
            await anonymous.info()


async def test_basic_auth_from_password_file(secured: MediaMTXEmulator, tmp_path: Path) -> None:
    assert secured.url is not None
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    env = {"CAMCTL_MEDIAMTX_USER": "camctl", "CAMCTL_MEDIAMTX_PASSWORD_FILE": str(secret)}
    async with MediaMTXClient.from_env(secured.url, env) as client:
        assert (await client.info())["version"] == "v1.20.1"


async def test_basic_auth_from_url(secured: MediaMTXEmulator) -> None:
    assert secured.url is not None
    url = secured.url.replace("http://", f"http://camctl:{PASSWORD}@")
    async with MediaMTXClient(url) as client:
        assert client.url == secured.url
        assert (await client.info())["version"] == "v1.20.1"


def test_from_env_rejects_ambiguous_or_broken_settings(tmp_path: Path) -> None:
    both = {
        "CAMCTL_MEDIAMTX_USER": "u",
        "CAMCTL_MEDIAMTX_PASSWORD": PASSWORD,
        "CAMCTL_MEDIAMTX_PASSWORD_FILE": str(tmp_path / "pw"),
    }
    with pytest.raises(ValueError, match="not both"):
        MediaMTXClient.from_env("http://127.0.0.1:9997", both)
    missing = {"CAMCTL_MEDIAMTX_USER": "u", "CAMCTL_MEDIAMTX_PASSWORD_FILE": str(tmp_path / "no")}
    with pytest.raises(ValueError, match="cannot read CAMCTL_MEDIAMTX_PASSWORD_FILE"):
        MediaMTXClient.from_env("http://127.0.0.1:9997", missing)
    with pytest.raises(ValueError, match="needs a user"):
        MediaMTXClient.from_env("http://127.0.0.1:9997", {"CAMCTL_MEDIAMTX_PASSWORD": PASSWORD})


async def test_password_never_shows(
    secured: MediaMTXEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    assert secured.url is not None
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    port = _closed_port()
    urls = [
        secured.url.replace("http://", f"http://camctl:{PASSWORD}x@"),  # wrong password
        secured.url.replace("http://", f"http://camctl:{PASSWORD}@"),
        f"http://camctl:{PASSWORD}@127.0.0.1:{port}",  # unreachable
    ]
    for url in urls:
        async with MediaMTXClient(url) as client:
            texts.append(repr(client))
            for call in (
                client.get_path_config("nope"),
                # MediaMTX echoes the source, with the camera's password, in its error.
                client.add_path_config("c", {"source": f"ftp://cam:{PASSWORD}@h/s"}),
            ):
                with pytest.raises(MediaMTXError) as caught:
                    await call
                error = caught.value
                texts += [str(error), repr(error), error.error, error.call]
    assert any("<redacted>" in text for text in texts)
    assert any("cannot reach MediaMTX" in text for text in texts)
    for text in [*texts, caplog.text]:
        assert PASSWORD not in text


def test_repr_and_password_without_user() -> None:
    client = MediaMTXClient("http://127.0.0.1:9997", user="u", password=PASSWORD)
    assert repr(client) == "MediaMTXClient(url='http://127.0.0.1:9997', user='u')"
    with pytest.raises(ValueError, match="needs a user"):
        MediaMTXClient(password=PASSWORD)


def test_a_user_name_with_a_colon_is_refused_when_the_client_is_made() -> None:
    # HTTP Basic auth joins user and password with ":": such a name would log in as another.
    with pytest.raises(ValueError, match="not allowed in login"):
        MediaMTXClient("http://127.0.0.1:9997", user="cam:ctl", password="secret")
