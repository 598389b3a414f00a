"""The MediaMTX emulator answers like MediaMTX v1.20.1 and matches its OpenAPI description."""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_contract import facts, schema, validation_errors

from controller.testing.mediamtx import (
    DEPRECATED_FIELDS,
    FIELDS,
    PATH_DEFAULTS,
    MediaMTXEmulator,
    _format_duration,
    _parse_duration,
    run_in_thread,
)

pytestmark = pytest.mark.anyio

OK = {"status": "ok"}
CAM = "cams/front"


def error(text: str) -> dict[str, str]:
    return {"status": "error", "error": text}


@pytest.fixture
async def http(emu: MediaMTXEmulator) -> AsyncIterator[httpx.AsyncClient]:
    assert emu.url is not None
    async with httpx.AsyncClient(base_url=emu.url) as client:
        yield client


async def call(
    http: httpx.AsyncClient, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    response = await http.request(method, path, json=body)
    return response.status_code, response.json()


# --- endpoints ----------------------------------------------------------------------------------
async def test_info(http: httpx.AsyncClient) -> None:
    status, body = await call(http, "GET", "/v3/info")
    assert status == 200
    assert body["version"] == "v1.20.1"
    assert body["started"].endswith("Z")
    assert not validation_errors(body, schema("Info"))


async def test_add_get_and_duplicate(http: httpx.AsyncClient) -> None:
    assert await call(http, "POST", f"/v3/config/paths/add/{CAM}", {"record": True}) == (200, OK)
    status, conf = await call(http, "GET", f"/v3/config/paths/get/{CAM}")
    assert status == 200 and conf["name"] == CAM and conf["record"] is True
    again = await call(http, "POST", f"/v3/config/paths/add/{CAM}", {})
    assert again == (400, error("path already exists"))


async def test_get_unknown_is_404(http: httpx.AsyncClient) -> None:
    answer = await call(http, "GET", "/v3/config/paths/get/nope")
    assert answer == (404, error("path configuration not found"))


async def test_reads_resolve_defaults_like_mediamtx(http: httpx.AsyncClient) -> None:
    body = {"runOnInit": "ffmpeg -i x", "recordSegmentDuration": "30m", "recordMaxPartSize": "1MB"}
    await call(http, "POST", "/v3/config/paths/add/cam1", body)
    _, conf = await call(http, "GET", "/v3/config/paths/get/cam1")
    assert conf["runOnInit"] == "ffmpeg -i x"
    assert conf["source"] == "publisher" and conf["recordFormat"] == "fmp4"
    # Durations and sizes come back as MediaMTX marshals them.
    assert conf["recordSegmentDuration"] == "30m0s"
    assert conf["recordDeleteAfter"] == "1d" and conf["runOnDemandStartTimeout"] == "10s"
    assert conf["recordMaxPartSize"] == "1M"
    assert not set(DEPRECATED_FIELDS) & set(conf), "unset deprecated fields are omitted"
    assert set(conf) == {"name", *PATH_DEFAULTS}
    assert not validation_errors(conf, schema("PathConf"))


async def test_patch_merges_and_404s(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    answer = await call(http, "PATCH", "/v3/config/paths/patch/nope", {"record": True})
    assert answer == (404, error("path not found"))
    await call(http, "POST", "/v3/config/paths/add/cam1", {"runOnInit": "a"})
    assert await call(http, "PATCH", "/v3/config/paths/patch/cam1", {"record": True}) == (200, OK)
    assert emu.stored("cam1") == {"runOnInit": "a", "record": True}


async def test_replace_creates_and_replaces(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    assert await call(http, "POST", "/v3/config/paths/replace/cam1", {"record": True}) == (200, OK)
    await call(http, "POST", "/v3/config/paths/replace/cam1", {"runOnInit": "b"})
    assert emu.stored("cam1") == {"runOnInit": "b"}


async def test_delete(http: httpx.AsyncClient) -> None:
    assert await call(http, "DELETE", "/v3/config/paths/delete/cam1") == (
        404,
        error("path not found"),
    )
    await call(http, "POST", "/v3/config/paths/add/cam1", {})
    assert await call(http, "DELETE", "/v3/config/paths/delete/cam1") == (200, OK)
    assert (await call(http, "GET", "/v3/config/paths/get/cam1"))[0] == 404


async def test_names_with_slashes_and_percent_encoding(
    http: httpx.AsyncClient, emu: MediaMTXEmulator
) -> None:
    await call(http, "POST", "/v3/config/paths/add/site%2Fa/cam-1.x~y:z", {})
    assert emu.path_names() == ["site/a/cam-1.x~y:z"]
    status, conf = await call(http, "GET", "/v3/config/paths/get/site/a%2Fcam-1.x~y:z")
    assert status == 200 and conf["name"] == "site/a/cam-1.x~y:z"
    assert await call(http, "GET", "/v3/config/paths/get/") == (400, error("invalid name"))


async def test_unknown_route_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v3/nothing")).status_code == 404


# --- pagination ---------------------------------------------------------------------------------
async def test_config_list_pages(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    for i in reversed(range(250)):
        emu.set_path(f"cam{i:03}", {})
    status, first = await call(http, "GET", "/v3/config/paths/list")
    assert status == 200 and (first["itemCount"], first["pageCount"]) == (250, 3)
    assert [c["name"] for c in first["items"]] == [f"cam{i:03}" for i in range(100)]
    _, last = await call(http, "GET", "/v3/config/paths/list?page=2")
    assert [c["name"] for c in last["items"]] == [f"cam{i:03}" for i in range(200, 250)]
    _, beyond = await call(http, "GET", "/v3/config/paths/list?page=9&itemsPerPage=50")
    assert beyond == {"itemCount": 250, "pageCount": 5, "items": []}
    assert not validation_errors(first, schema("PathConfList"))


async def test_empty_list(http: httpx.AsyncClient) -> None:
    answer = await call(http, "GET", "/v3/config/paths/list")
    assert answer == (200, {"itemCount": 0, "pageCount": 0, "items": []})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("itemsPerPage=0", "invalid items per page"),
        ("itemsPerPage=abc", 'strconv.ParseUint: parsing "abc": invalid syntax'),
        ("page=-1", 'strconv.ParseUint: parsing "-1": invalid syntax'),
        ("page=9999999999", 'strconv.ParseUint: parsing "9999999999": value out of range'),
    ],
)
async def test_bad_pagination_is_400(http: httpx.AsyncClient, query: str, message: str) -> None:
    for path in ("/v3/config/paths/list", "/v3/paths/list"):
        assert await call(http, "GET", f"{path}?{query}") == (400, error(message))


# --- redaction ----------------------------------------------------------------------------------
async def test_passwords_are_redacted(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    body = {
        "publishUser": "u",
        "publishPass": "secret1",
        "readPass": "",
        "srtReadPassphrase": "x" * 12,
    }
    await call(http, "POST", "/v3/config/paths/add/cam1", body)
    _, conf = await call(http, "GET", "/v3/config/paths/get/cam1")
    assert conf["publishPass"] == "<redacted>" and conf["publishUser"] == "u"
    assert conf["readPass"] == "", "empty passwords stay empty"
    assert conf["srtReadPassphrase"] == "x" * 12, "MediaMTX 1.20.1 redacts only publish/readPass"
    _, listed = await call(http, "GET", "/v3/config/paths/list")
    assert listed["items"][0]["publishPass"] == "<redacted>"
    assert emu.stored("cam1")["publishPass"] == "secret1"


# --- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("cam1", {"source": "rtsp://h/s", "runOnDemand": "x"},
         "'runOnDemand' and 'runOnUnDemand' can be used only when source is 'publisher'"),
        ("cam1", {"recordPath": "./rec/%Y-%m-%d_%H-%M-%S"}, "'recordPath' must contain %path"),
        ("cam1", {"recordPath": "./%path/x"},
         "'recordPath' must contain either %s or %Y %m %d %H %M %S"),
        ("cam1", {"recordSegmentDuration": "30m", "recordDeleteAfter": "20m"},
         "'recordDeleteAfter' cannot be lower than 'recordSegmentDuration'"),
        ("cam1", {"recordSegmentDuration": "25h", "recordDeleteAfter": "7d"},
         "maximum segment duration is 1 day"),
        ("cam1", {"sourceOnDemand": True},
         "'sourceOnDemand' is useless when source is 'publisher'"),
        ("cam1", {"source": "ftp://h/x"}, "invalid source: 'ftp://h/x'"),
        ("cam1", {"source": "redirect"}, "source redirect must be filled"),
        ("cam1", {"srtPublishPassphrase": "short"},
         "invalid 'srtPublishPassphrase': must be between 10 and 79 characters"),
        ("a b", {}, "invalid path name 'a b': can contain only alphanumeric characters, "
                    "underscore, dot, tilde, minus, slash, colon"),
        ("~^(cam", {}, "invalid regular expression: ^(cam"),
        ("~^cam", {"runOnInit": "x"}, "a path with a regular expression (or path 'all') does not "
                                      "support option 'runOnInit'; use another path"),
        ("cam1", {"bogus": 1}, 'json: unknown field "bogus"'),
        ("cam1", {"forward": [{"dest": "srt://h", "extra": 1}]}, 'json: unknown field "extra"'),
        ("cam1", {"record": "yes"},
         "json: cannot unmarshal string into Go struct field .record of type bool"),
        ("cam1", {"maxReaders": 1.5},
         "json: cannot unmarshal number into Go struct field .maxReaders of type int"),
        ("cam1", {"recordDeleteAfter": "7 days"}, 'time: invalid duration "7 days"'),
        ("cam1", {"recordFormat": "mkv"}, "invalid recordFormat: 'mkv'"),
    ],
)  # fmt: skip
async def test_invalid_configs_are_400(
    http: httpx.AsyncClient, emu: MediaMTXEmulator, name: str, body: dict[str, Any], message: str
) -> None:
    assert await call(http, "POST", f"/v3/config/paths/add/{name}", body) == (400, error(message))
    assert emu.path_names() == [] and emu.write_count == 0


async def test_valid_edge_cases(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    edge = {"recordSegmentDuration": "1d", "recordDeleteAfter": "0s", "recordPath": "./%path/%s"}
    assert await call(http, "POST", "/v3/config/paths/add/cam1", edge) == (200, OK)
    body = {"source": "rtsp://u:p@h/s", "sourceOnDemand": True, "publishIPs": None, "name": "x"}
    assert await call(http, "POST", "/v3/config/paths/add/cam2", body) == (200, OK)
    assert emu.stored("cam2") == {"source": "rtsp://u:p@h/s", "sourceOnDemand": True}
    _, conf = await call(http, "GET", "/v3/config/paths/get/cam1")
    assert conf["recordDeleteAfter"] == "" and conf["recordSegmentDuration"] == "1d"


@pytest.mark.parametrize(("raw", "message"), [("", "unexpected end of JSON input"), ("[]", None)])
async def test_bodies_that_are_not_objects(
    http: httpx.AsyncClient, raw: str, message: str | None
) -> None:
    response = await http.post("/v3/config/paths/add/cam1", content=raw)
    assert response.status_code == 400
    assert message is None or response.json()["error"] == message


async def test_invalid_patch_changes_nothing(
    http: httpx.AsyncClient, emu: MediaMTXEmulator
) -> None:
    await call(http, "POST", "/v3/config/paths/add/cam1", {"record": True})
    status, _ = await call(http, "PATCH", "/v3/config/paths/patch/cam1", {"recordPath": "x"})
    assert status == 400 and emu.stored("cam1") == {"record": True} and emu.write_count == 1


# --- runtime and recordings ---------------------------------------------------------------------
async def test_runtime_paths(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    emu.set_path("live", {"runOnInit": "ffmpeg", "runOnInitRestart": True})
    emu.set_path("ondemand", {"runOnDemand": "ffmpeg"})
    emu.set_path("unread", {"runOnDemand": "ffmpeg"})
    emu.set_path("pulled", {"source": "rtsps://h/s"})
    emu.set_path("lazy", {"source": "rtsp://h/s", "sourceOnDemand": True})
    emu.set_path("~^any", {})
    emu.runtime["ondemand"] = {"readers": [{"type": "rtspSession", "id": "r1"}]}
    status, listed = await call(http, "GET", "/v3/paths/list")
    assert status == 200 and not validation_errors(listed, schema("PathList"))
    paths = {p["name"]: p for p in listed["items"]}
    assert sorted(paths) == ["lazy", "live", "ondemand", "pulled", "unread"], "no regexp paths"
    assert paths["live"]["source"]["type"] == "rtspSession" and paths["live"]["online"] is True
    assert paths["live"]["available"] is True and paths["live"]["onlineTime"]
    assert paths["pulled"]["source"] == {"type": "rtspSource", "id": ""}
    assert paths["lazy"]["source"] is None and paths["lazy"]["ready"] is False
    assert paths["ondemand"]["readers"] == [{"type": "rtspSession", "id": "r1"}]
    assert paths["ondemand"]["online"] is True, "a reader starts runOnDemand"
    assert paths["unread"]["online"] is False and paths["unread"]["inboundBytes"] == 0
    status, one = await call(http, "GET", "/v3/paths/get/live")
    moving = ("inboundBytes", "bytesReceived")  # the publisher sends on meanwhile
    assert status == 200 and one | {k: 0 for k in moving} == paths["live"] | {k: 0 for k in moving}
    assert one["inboundBytes"] >= paths["live"]["inboundBytes"]


async def runtime_of(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    status, item = await call(http, "GET", f"/v3/paths/get/{name}")
    assert status == 200
    return dict(item)


async def test_a_publisher_sends_until_stalled_and_a_recreated_path_sends_again(
    http: httpx.AsyncClient, emu: MediaMTXEmulator
) -> None:
    conf = {"runOnInit": "ffmpeg", "runOnInitRestart": True}
    await call(http, "POST", "/v3/config/paths/add/cam1", conf)
    first = await runtime_of(http, "cam1")
    await asyncio.sleep(0.05)
    second = await runtime_of(http, "cam1")
    assert first["online"] and second["inboundBytes"] > first["inboundBytes"], "bytes flow"

    emu.stall("cam1")  # a stuck ffmpeg: connected, sending nothing
    frozen = await runtime_of(http, "cam1")
    await asyncio.sleep(0.05)
    assert await runtime_of(http, "cam1") == frozen and frozen["online"] is True
    assert emu.stalled("cam1")
    await call(http, "PATCH", "/v3/config/paths/patch/cam1", {"record": False})
    assert emu.stalled("cam1"), "a change of the record fields restarts nothing"

    assert (await call(http, "DELETE", "/v3/config/paths/delete/cam1"))[0] == 200
    await call(http, "POST", "/v3/config/paths/add/cam1", conf)
    assert not emu.stalled("cam1")
    fresh = await runtime_of(http, "cam1")
    await asyncio.sleep(0.05)
    assert (await runtime_of(http, "cam1"))["inboundBytes"] > fresh["inboundBytes"]


async def test_a_stalled_publisher_may_also_be_gone(
    http: httpx.AsyncClient, emu: MediaMTXEmulator
) -> None:
    await call(http, "POST", "/v3/config/paths/add/cam1", {"runOnInit": "ffmpeg"})
    emu.stall("cam1", online=False)  # ffmpeg hung before publishing: no source at all
    item = await runtime_of(http, "cam1")
    assert (item["online"], item["ready"], item["source"], item["onlineTime"]) == (
        False,
        False,
        None,
        None,
    )
    assert not validation_errors(item, schema("Path"))
    with pytest.raises(KeyError):
        emu.stall("nope")
    emu.restart()
    assert not emu.stalled("cam1")


async def test_recordings(http: httpx.AsyncClient, emu: MediaMTXEmulator, record_path: str) -> None:
    answer = await call(http, "GET", "/v3/recordings/get/cam1")
    assert answer == (400, error("path 'cam1' is not configured"))
    emu.set_path("cam1", {"record": True, "recordPath": record_path})
    assert await call(http, "GET", "/v3/recordings/get/cam1") == (
        200,
        {"name": "cam1", "segments": []},
    )
    emu.record("cam1", datetime(2026, 1, 1, 0, 0, 1, 500000, tzinfo=UTC))
    emu.record("cam1", datetime(2026, 1, 1, tzinfo=UTC))
    _, body = await call(http, "GET", "/v3/recordings/get/cam1")
    starts = [{"start": "2026-01-01T00:00:00Z"}, {"start": "2026-01-01T00:00:01.5Z"}]
    assert body["segments"] == starts
    assert not validation_errors(body, schema("Recording"))
    emu.set_path("all_others", {})
    assert (await call(http, "GET", "/v3/recordings/get/other"))[0] == 200


# --- auth, hooks --------------------------------------------------------------------------------
async def test_basic_auth() -> None:
    emulator = MediaMTXEmulator(users=[("admin", "pw")], auth_delay=0.01)
    url = await emulator.start()
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            anonymous = await client.get("/v3/info")
            assert anonymous.status_code == 401
            assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="mediamtx"'
            assert anonymous.json() == error("authentication error")
            wrong = await client.get("/v3/info", auth=("admin", "nope"))
            assert wrong.status_code == 401 and "WWW-Authenticate" not in wrong.headers
            garbage = await client.get("/v3/info", headers={"Authorization": "Basic !!"})
            assert garbage.status_code == 401
            assert (await client.get("/v3/info", auth=("admin", "pw"))).status_code == 200
    finally:
        await emulator.stop()


async def test_restart_wipes_paths(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    await call(http, "POST", "/v3/config/paths/add/cam1", {})
    emu.runtime["cam1"] = {"online": True}
    _, before = await call(http, "GET", "/v3/info")
    await asyncio.sleep(0.001)
    emu.restart()
    assert emu.path_names() == [] and emu.runtime == {}
    await asyncio.sleep(0.05)  # its connections were dropped: the client sees it and reconnects
    assert (await call(http, "GET", "/v3/config/paths/get/cam1"))[0] == 404
    _, after = await call(http, "GET", "/v3/info")
    assert after["started"] > before["started"]
    assert len(emu.requests) == 4, "the request log survives a restart"


async def test_fail_next(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    emu.fail_next(500, times=2)
    for _ in range(2):
        answer = await call(http, "POST", "/v3/config/paths/add/cam1", {})
        assert answer == (500, error("injected failure"))
    assert emu.path_names() == []
    assert await call(http, "POST", "/v3/config/paths/add/cam1", {}) == (200, OK)
    emu.fail_next(503)
    assert (await call(http, "GET", "/v3/info"))[0] == 503


async def test_delay(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    emu.delay = 0.1
    started = time.monotonic()
    await http.get("/v3/info")
    assert time.monotonic() - started >= 0.1


async def test_request_log_and_write_count(http: httpx.AsyncClient, emu: MediaMTXEmulator) -> None:
    await call(http, "POST", "/v3/config/paths/add/cam%201", {})  # invalid name: not a write
    await call(http, "POST", "/v3/config/paths/add/cam1", {"record": True})
    await call(http, "PATCH", "/v3/config/paths/patch/cam1", {"record": False})
    await call(http, "POST", "/v3/config/paths/replace/cam1", {})
    await call(http, "GET", "/v3/config/paths/list?page=0")
    await call(http, "DELETE", "/v3/config/paths/delete/cam1")
    assert emu.write_count == 4
    assert emu.requests == [
        ("POST", "/v3/config/paths/add/cam%201", {}),
        ("POST", "/v3/config/paths/add/cam1", {"record": True}),
        ("PATCH", "/v3/config/paths/patch/cam1", {"record": False}),
        ("POST", "/v3/config/paths/replace/cam1", {}),
        ("GET", "/v3/config/paths/list?page=0", None),
        ("DELETE", "/v3/config/paths/delete/cam1", None),
    ]


def test_set_path_validates_and_is_not_counted() -> None:
    emulator = MediaMTXEmulator()
    emulator.set_path("cam1", {"runOnInit": "x"})
    assert emulator.write_count == 0 and emulator.requests == []
    with pytest.raises(ValueError, match="must contain %path"):
        emulator.set_path("cam2", {"recordPath": "x"})
    assert emulator.resolved("cam1")["runOnInit"] == "x"


def test_run_in_thread_serves_and_stops() -> None:
    emulator = MediaMTXEmulator()
    with run_in_thread(emulator) as url:
        assert httpx.get(f"{url}/v3/info").json()["version"] == "v1.20.1"
        httpx.post(f"{url}/v3/config/paths/add/cam1", json={})
    assert emulator.path_names() == ["cam1"] and emulator.url is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v3/info")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_runs_standalone() -> None:
    port = _free_port()
    auth = "Basic " + base64.b64encode(b"admin:pw").decode()
    command = [sys.executable, "-m", "controller.testing.mediamtx", "--port", str(port)]
    with subprocess.Popen([*command, "--user", "admin:pw"], stdout=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    response = httpx.get(
                        f"http://127.0.0.1:{port}/v3/info", headers={"Authorization": auth}
                    )
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "emulator did not start"
                    time.sleep(0.05)
            assert response.json()["version"] == "v1.20.1"
        finally:
            proc.terminate()


# --- the field set and defaults are MediaMTX's ---------------------------------------------------
def test_fields_are_the_openapi_pathconf_properties() -> None:
    properties = facts()["schemas"]["PathConf"]["properties"]
    assert set(properties) == FIELDS
    deprecated = {name for name, prop in properties.items() if prop.get("deprecated")}
    assert deprecated == set(DEPRECATED_FIELDS)


def _normalise(field: str, value: Any) -> Any:
    if value is None:  # an empty YAML value is an empty string or list in MediaMTX
        return [] if isinstance(PATH_DEFAULTS[field], list) else ""
    if field.endswith(("Duration", "Timeout", "After")):
        return _format_duration(_parse_duration(value))
    return value


def test_defaults_are_mediamtx_yml_path_defaults() -> None:
    yml_defaults = facts()["pathDefaults"]
    assert set(yml_defaults) == set(PATH_DEFAULTS)
    for field, value in yml_defaults.items():
        ours = PATH_DEFAULTS[field]
        assert _normalise(field, value) == _normalise(field, ours), field
        assert type(ours) is type(_normalise(field, value)) or isinstance(ours, float), field


def test_defaults_validate_against_the_spec() -> None:
    emulator = MediaMTXEmulator()
    emulator.set_path("cam1", {})
    assert not validation_errors(emulator.resolved("cam1"), schema("PathConf"))


# --- durations ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "marshalled"),
    [("1h", "1h0m0s"), ("10s", "10s"), ("1d", "1d"), ("0s", ""), ("", ""), ("90m", "1h30m0s"),
     ("1.5s", "1.5s"), ("500ms", "500ms"), ("1d12h", "1d12h0m0s"), ("7d", "7d"), ("1us", "1µs")],
)  # fmt: skip
def test_durations_marshal_like_mediamtx(text: str, marshalled: str) -> None:
    assert _format_duration(_parse_duration(text)) == marshalled


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_durations_round_trip(ns: int) -> None:
    assert _parse_duration(_format_duration(ns)) == ns


async def test_pulled_sources_are_ready_only_when_the_camera_answers(
    http: httpx.AsyncClient, emu: MediaMTXEmulator
) -> None:
    """The registry of network cameras: an address, and the credentials it demands."""
    emu.cameras = {"192.0.2.10:554": ("admin", "p@ss"), "192.0.2.11:9000": ("", "passphrase-1")}
    emu.cameras["192.0.2.12:80"] = None  # an open MJPEG camera
    emu.set_path("right", {"source": "rtsp://admin:p%40ss@192.0.2.10/x"})
    emu.set_path("wrong", {"source": "rtsp://admin:guess@192.0.2.10/x"})
    emu.set_path("anonymous", {"source": "rtsp://192.0.2.10:554/x"})
    emu.set_path("unknown", {"source": "rtsp://192.0.2.99/x"})
    emu.set_path("srt", {"source": "srt://192.0.2.11:9000?streamid=x&passphrase=passphrase-1"})
    emu.set_path("open", {"source": "http://192.0.2.12/mjpeg"})
    pulls = "ffmpeg -i rtsp://admin:p%40ss@192.0.2.10/x -f rtsp rtsp://localhost:$RTSP_PORT/x"
    emu.set_path("transcoded", {"runOnInit": pulls})
    emu.set_path("transcoded-wrong", {"runOnInit": pulls.replace("p%40ss", "guess")})
    status, listed = await call(http, "GET", "/v3/paths/list")
    assert status == 200 and not validation_errors(listed, schema("PathList"))
    paths = {p["name"]: p for p in listed["items"]}
    ready = {name for name, p in paths.items() if p["ready"]}
    assert ready == {"right", "srt", "open", "transcoded"}
    assert paths["wrong"]["source"] == {"type": "rtspSource", "id": ""}  # pulled, in vain
    assert paths["wrong"]["readyTime"] is None and paths["right"]["readyTime"]
    emu.cameras.pop("192.0.2.10:554")  # the camera goes away
    _, listed = await call(http, "GET", "/v3/paths/list")
    assert {p["name"] for p in listed["items"] if p["ready"]} == {"srt", "open"}
