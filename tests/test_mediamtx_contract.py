"""Every request the MediaMTX client sends, and every answer of the emulator, is one MediaMTX's
API allows (tests/mediamtx_facts.json: its operations, field types and status codes)."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest
from openapi_contract import (
    assert_requests_match_spec,
    find_operation,
    request_problems,
    response_problems,
    schema,
)
from openapi_contract import validation_errors as errors

from controller.observe.mediamtx import MediaMTXClient, MediaMTXError
from controller.testing.mediamtx import MediaMTXEmulator


async def _drive_every_method(client: MediaMTXClient, emu: MediaMTXEmulator) -> None:
    for i in range(120):  # more than a page
        emu.set_path(f"seed/{i:03}", {})
    conf: dict[str, Any] = {
        "runOnInit": "ffmpeg -f v4l2 -i /dev/video0 -f rtsp rtsp://localhost:$RTSP_PORT/$MTX_PATH",
        "runOnInitRestart": True,
        "record": True,
        "recordFormat": "fmp4",
        "recordSegmentDuration": "1h",
        "recordDeleteAfter": "7d",
        "forward": [{"dest": "srt://backup:8890?streamid=publish:cam"}],
    }
    await client.info()
    await client.add_path_config("cams/front", conf)
    await client.get_path_config("cams/front")
    await client.patch_path_config("cams/front", {"recordDeleteAfter": "30d", "fallback": None})
    await client.replace_path_config("cams/back", {"runOnDemand": "ffmpeg"})
    await client.list_path_configs()
    await client.path_configs_fingerprint()
    await client.list_paths()
    await client.get_recordings("cams/front")
    await client.delete_path_config("cams/back")
    failing_calls = (
        client.get_path_config("missing"),
        client.delete_path_config("missing"),
        client.add_path_config("cams/front door?#%", conf),  # quoted, and refused by MediaMTX
    )
    for failing in failing_calls:
        with pytest.raises(MediaMTXError):
            await failing


PUBLIC_CALLS = {
    name
    for name, member in inspect.getmembers(MediaMTXClient, inspect.iscoroutinefunction)
    if not name.startswith("_") and name != "aclose"
}
SAME_ENDPOINT = {"path_configs_fingerprint"}  # reads the path config list too
NO_REQUEST = {"closes"}  # a bare TCP connection, watched for MediaMTX closing it


@pytest.mark.anyio
async def test_client_requests_match_openapi(emu: MediaMTXEmulator) -> None:
    assert emu.url is not None
    async with MediaMTXClient(emu.url) as client:
        await _drive_every_method(client, emu)
    assert_requests_match_spec(emu.requests)
    templates = {
        op.template for m, t, _ in emu.requests if (op := find_operation(m, t.split("?")[0]))
    }
    assert len(templates) == len(PUBLIC_CALLS - SAME_ENDPOINT - NO_REQUEST) == 9, sorted(templates)


@pytest.mark.anyio
async def test_emulator_answers_match_openapi(emu: MediaMTXEmulator) -> None:
    assert emu.url is not None
    emu.set_path("cams/front", {"runOnInit": "ffmpeg", "publishUser": "u", "publishPass": "p"})
    async with MediaMTXClient(emu.url) as client:
        assert not errors(await client.info(), schema("Info"))
        assert not errors(await client.get_path_config("cams/front"), schema("PathConf"))
        for conf in (await client.list_path_configs()).values():
            assert not errors(conf, schema("PathConf"))
        for path in (await client.list_paths()).values():
            assert not errors(path, schema("Path"))
        assert not errors(await client.get_recordings("cams/front"), schema("Recording"))


EVERY_ANSWER = [  # each endpoint the emulator serves, answering each status code it can
    ("GET", "/v3/info", None, 200),
    ("POST", "/v3/config/paths/add/cams/front", {"record": True}, 200),
    ("POST", "/v3/config/paths/add/cams/front", {}, 400),
    ("GET", "/v3/config/paths/get/cams/front", None, 200),
    ("GET", "/v3/config/paths/get/missing", None, 404),
    ("PATCH", "/v3/config/paths/patch/cams/front", {"recordDeleteAfter": "7d"}, 200),
    ("PATCH", "/v3/config/paths/patch/missing", {}, 404),
    ("PATCH", "/v3/config/paths/patch/cams/front", {"recordPath": "x"}, 400),
    ("POST", "/v3/config/paths/replace/cams/back", {"runOnDemand": "ffmpeg"}, 200),
    ("POST", "/v3/config/paths/replace/cams/back", {"bogus": 1}, 400),
    ("GET", "/v3/config/paths/list?itemsPerPage=1", None, 200),
    ("GET", "/v3/config/paths/list?itemsPerPage=0", None, 400),
    ("GET", "/v3/paths/list", None, 200),
    ("GET", "/v3/paths/list?page=-1", None, 400),
    ("GET", "/v3/paths/get/cams/front", None, 200),
    ("GET", "/v3/paths/get/missing", None, 404),
    ("GET", "/v3/recordings/get/cams/front", None, 200),
    ("GET", "/v3/recordings/get/missing", None, 400),
    ("DELETE", "/v3/config/paths/delete/cams/back", None, 200),
    ("DELETE", "/v3/config/paths/delete/cams/back", None, 404),
]


@pytest.mark.anyio
async def test_emulator_status_codes_and_bodies_match_openapi(emu: MediaMTXEmulator) -> None:
    assert emu.url is not None
    emu.runtime["cams/front"] = {"online": True}
    problems = []
    async with httpx.AsyncClient(base_url=emu.url) as http:
        for method, target, body, expected in EVERY_ANSWER:
            response = await http.request(method, target, json=body)
            assert response.status_code == expected, (method, target, response.text)
            problems += response_problems(method, target, expected, response.json())
    assert not problems, "answers outside MediaMTX's API:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("method", "target", "status", "body", "problem"),
    [
        ("POST", "/v3/config/paths/add/cam", 404, {"status": "error", "error": "x"}, "only 200"),
        ("GET", "/v3/info", 200, {"version": 1}, "is not of type 'string'"),
        ("GET", "/v3/config/paths/get/cam", 200, {"bogus": 1}, "Additional properties"),
        ("GET", "/v3/config/paths/get/cam", 404, {"status": "wrong"}, "'wrong' is not one of"),
        ("GET", "/v3/nothing", 200, {}, "no such operation"),
    ],
)
def test_checker_flags_bad_answers(
    method: str, target: str, status: int, body: Any, problem: str
) -> None:
    problems = response_problems(method, target, status, body)
    assert problems and problem in problems[0], problems


# --- the checker itself catches what MediaMTX would reject ---------------------------------------
@pytest.mark.parametrize(
    ("method", "target", "body", "problem"),
    [
        ("POST", "/v3/config/paths/add/cam", {"bogus": 1}, "Additional properties"),
        ("POST", "/v3/config/paths/add/cam", {"record": "yes"}, "is not of type 'boolean'"),
        ("POST", "/v3/config/paths/add/cam", {"record": None}, "None is not of type 'boolean'"),
        ("POST", "/v3/config/paths/add/cam", {"forward": [{"x": 1}]}, "Additional properties"),
        ("POST", "/v3/config/paths/add/cam", None, "requires a body"),
        ("GET", "/v3/config/paths/get/cam", {}, "takes none"),
        ("GET", "/v3/config/paths/list?limit=5", None, "undeclared query parameter 'limit'"),
        ("GET", "/v3/config/paths/list?page=x", None, "not an integer"),
        ("PUT", "/v3/config/paths/add/cam", {}, "no such operation"),
        ("GET", "/v3/config/paths/get/", None, "no such operation"),
        ("GET", "/v3/nothing", None, "no such operation"),
    ],
)
def test_checker_flags_bad_requests(method: str, target: str, body: Any, problem: str) -> None:
    problems = request_problems(method, target, body)
    assert problems and problem in problems[0], problems
    with pytest.raises(AssertionError):
        assert_requests_match_spec([(method, target, body)])


def test_checker_accepts_nullable_and_nested_names() -> None:
    body = {"fallback": None, "sourceProtocol": None, "rtspRangeType": "", "recordFormat": "mpegts"}
    assert request_problems("PATCH", "/v3/config/paths/patch/a/b/c", body) == []
    assert request_problems("GET", "/v3/paths/list?page=0&itemsPerPage=100", None) == []
    op = find_operation("GET", "/v3/paths/list")
    assert op is not None and op.template == "/v3/paths/list"
