"""Recorded segments through the view, against a live controller + emulator + view with real
ffmpeg-made segments: recordings.segments (order, paging, windows, sizes, playback URLs that
decode), the old service's file calls and their refusals, metrics, notifications, the Python
client and `camctl recordings`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from click.testing import CliRunner
from test_recordings_files import probe
from test_view import TOKEN, View, serving

from controller.api.settings import Settings
from controller.cli import main as camctl
from controller.testing.harness import eventually
from controller.testing.recordings import write_segments
from controller.view.client import AsyncViewClient, RPCError, ViewClient

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
FRONT, GARAGE = 30, 5  # segments written before the first pass
MINUTE = 60.0
TRAVERSALS = ["../etc/passwd", "/etc/passwd", "a/../../b", "cams/front-door/x\0.mp4", "a\\..\\b"]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def roots(base: Path) -> tuple[Path, Path]:
    """The default recordings root and a second allowed one (front-door's spec.root)."""
    return base / "recordings", base / "archive"


def recorded_world(base: Path) -> dict[str, Any]:
    """`serving` options: two allowed roots, front-door's Recording under the second, and
    real segments already on disk (front-door fmp4, a minute each; garage mpegts)."""
    default, archive = roots(base)
    front = archive / "front"

    def prepare(docs: Path) -> None:
        text = (docs / "recordings.yaml").read_text()
        marker = "  stream: front-door\n"
        (docs / "recordings.yaml").write_text(text.replace(marker, f"{marker}  root: {front}\n"))

    starts = [T0 + timedelta(minutes=m) for m in range(FRONT)]
    write_segments(front, "cams/front-door", "fmp4", starts, MINUTE)
    garage = [T0 + timedelta(minutes=10 * m) for m in range(GARAGE)]
    write_segments(default, "cams/garage", "mpegts", garage, 600)
    settings = Settings(node_name="edge-01", recordings_roots=(str(default), str(archive)))
    return {"prepare": prepare, "settings": settings}


@pytest.fixture(scope="module")
async def view(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[View]:
    """Shared by the read-only tests: never write segments or documents in them."""
    base = tmp_path_factory.mktemp("recorded")
    async with serving(base, **recorded_world(base)) as v:
        yield v


async def segments(view: View, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await view.result(
        "recordings.segments", {"name": "front-door"} | params
    )
    return result


def at(minute: float) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


def front_root(view: View) -> Path:
    return roots(view.docs.parent)[1] / "front"


# --- recordings.segments -------------------------------------------------------------------


async def test_newest_first_with_the_directory(view: View) -> None:
    page = await segments(view)
    starts = [item["start"] for item in page["items"]]
    assert starts == [at(m) for m in reversed(range(FRONT))]
    assert (page["total"], page["limit"], page["offset"]) == (FRONT, 100, 0)
    assert page["directory"] == f"{front_root(view)}/cams/front-door"
    assert set(page["items"][0]) == {"start", "duration", "size", "file", "url"}
    assert [i["duration"] for i in page["items"][1:]] == [MINUTE] * (FRONT - 1)


async def test_pages_cover_everything_once(view: View) -> None:
    seen: list[str] = []
    for offset in range(0, FRONT + 7, 7):
        page = await segments(view, limit=7, offset=offset)
        assert page["total"] == FRONT and page["offset"] == offset
        seen += [item["start"] for item in page["items"]]
    assert seen == [at(m) for m in reversed(range(FRONT))]
    assert (await segments(view, offset=10_000))["items"] == []


@pytest.mark.parametrize(
    ("since", "until", "minutes"),
    [
        (at(10), at(13), [12, 11, 10]),  # starts in [10, 13)
        (at(10.5), at(12.5), [12, 11, 10]),  # 10 runs on to 11: it overlaps the window
        (at(10.5), at(10.5), [10]),  # an instant: the segment that holds it
        (None, at(2), [1, 0]),
        (at(27), None, [29, 28, 27]),
        (at(100), None, []),
        ("2026-11-28T09:10:00+01:00", "2026-11-28T09:12:00+01:00", [11, 10]),  # any offset
    ],
)
async def test_since_until_windows(
    view: View, since: str | None, until: str | None, minutes: list[float]
) -> None:
    params = {k: v for k, v in (("since", since), ("until", until)) if v is not None}
    page = await segments(view, **params)
    assert [item["start"] for item in page["items"]] == [at(m) for m in minutes]
    assert page["total"] == len(minutes)


async def test_sizes_and_files_are_the_files_on_disk(view: View) -> None:
    for item in (await segments(view))["items"]:
        file = front_root(view) / item["file"]
        assert item["file"].startswith("cams/front-door/") and item["file"].endswith(".mp4")
        assert item["size"] == os.stat(file).st_size > 0


async def test_playback_url_shape(view: View) -> None:
    item = (await segments(view, limit=1, offset=3))["items"][0]
    url = urlsplit(item["url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:9996", "/get")
    assert parse_qs(url.query) == {
        "path": ["cams/front-door"],
        "start": [item["start"]],
        "duration": [str(item["duration"])],
        "format": ["fmp4"],
    }
    assert "path=cams%2Ffront-door&start=2026-11-28T08%3A26%3A00Z&" in item["url"]


async def test_a_segment_url_plays_back_as_real_video(view: View, tmp_path: Path) -> None:
    item = (await segments(view, limit=1, offset=5))["items"][0]
    url = item["url"].replace("http://127.0.0.1:9996", view.run.emulator.url or "")
    async with view.http.get(url) as response:  # MediaMTX's playback server, emulated
        assert response.status == 200
        body = await response.read()
    assert body == (front_root(view) / item["file"]).read_bytes()
    (tmp_path / "segment.mp4").write_bytes(body)
    decoded = probe(tmp_path / "segment.mp4")
    assert decoded["codec_name"] == "h264" and int(decoded["nb_read_frames"]) > 0


async def test_another_recording_and_an_unknown_one(view: View) -> None:
    page = await view.result("recordings.segments", {"name": "garage"})
    assert page["total"] == GARAGE and page["items"][0]["file"].endswith(".ts")
    assert page["directory"] == f"{roots(view.docs.parent)[0]}/cams/garage"
    missing = await view.call("recordings.segments", {"name": "nope"})
    assert missing["error"]["code"] == -32004
    assert missing["error"]["data"] == {"kind": "Recording", "namespace": "default", "name": "nope"}
    other = await view.call("recordings.segments", {"name": "front-door", "namespace": "lab"})
    assert other["error"]["code"] == -32004


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"limit": "5"},
        {"since": "yesterday"},
        {"since": "2026-11-28T08:00:00"},  # no offset: which instant?
        {"since": at(5), "until": at(4)},
        {"path": "../etc"},
    ],
)
async def test_bad_parameters_are_refused(view: View, params: dict[str, Any]) -> None:
    answer = await view.call("recordings.segments", {"name": "front-door"} | params)
    assert answer["error"]["code"] == -32602, answer


async def test_openrpc_describes_what_is_served(view: View) -> None:
    document = await view.result("rpc.discover")
    listed = {m["name"] for m in document["methods"]}
    assert listed == set(view.run.view.dispatcher.methods)
    assert {"recordings.segments", "list_recordings", "get_recording_info"} <= listed
    by_name = {m["name"]: m for m in document["methods"]}
    params = [p["name"] for p in by_name["recordings.segments"]["params"]]
    assert params == ["name", "namespace", "since", "until", "limit", "offset"]
    calls = {"recordings.segments": {"name": "front-door", "limit": 3}, "list_recordings": {}}
    for name, call in calls.items():
        schema = {**by_name[name]["result"]["schema"], "components": document["components"]}
        jsonschema.validate(await view.result(name, call), schema)
    for method in document["methods"]:
        for error in method.get("errors", []):
            assert error["$ref"].rsplit("/", 1)[1] in document["components"]["errors"]


# --- the old service's files ---------------------------------------------------------------


async def test_list_recordings_newest_first_over_every_recording(view: View) -> None:
    result = await view.result("list_recordings")
    assert set(result) == {"files", "total", "limit", "offset"}
    assert (result["total"], result["limit"], result["offset"]) == (FRONT + GARAGE, 100, 0)
    files = result["files"]
    assert set(files[0]) == {"filename", "file_size", "modified_time", "created_time",
                             "duration", "download_url"}  # fmt: skip
    stamps = [f["filename"].rsplit("/", 1)[1][:26] for f in files]  # local start times
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == FRONT + GARAGE - 3
    assert [f["filename"].split("/")[1] for f in files].count("garage") == GARAGE
    assert files[0]["filename"].startswith("cams/garage/")  # 08:40, after front-door's 08:29
    modified = datetime.fromisoformat(files[0]["modified_time"])
    assert modified == T0 + timedelta(minutes=50)  # MediaMTX's last write: start + 10 min
    assert (
        files[0]["file_size"] == (roots(view.docs.parent)[0] / files[0]["filename"]).stat().st_size
    )
    second = await view.result("list_recordings", {"limit": 3, "offset": 1})
    assert second["files"] == files[1:4] and second["total"] == FRONT + GARAGE


async def test_get_recording_info_answers_only_what_was_listed(view: View) -> None:
    listed = (await view.result("list_recordings", {"limit": 1}))["files"][0]
    assert await view.result("get_recording_info", {"filename": listed["filename"]}) == listed
    garage = await view.result("recordings.segments", {"name": "garage", "limit": 1})
    assert listed["download_url"] == garage["items"][0]["url"]
    for name in ("cams/front-door/nope.mp4", "front-door/" + listed["filename"], "recordings"):
        answer = await view.call("get_recording_info", {"filename": name})
        assert answer["error"]["code"] == -1005, answer


@pytest.mark.parametrize("filename", TRAVERSALS)
async def test_traversal_is_refused_and_nothing_happens(view: View, filename: str) -> None:
    requests, writes = len(view.run.emulator.requests), view.run.emulator.write_count
    for method in ("get_recording_info", "get_snapshot_info"):
        answer = await view.call(method, {"filename": filename})
        error = answer["error"]
        assert error["code"] == -32602 and error["message"].startswith("refusing filename")
        assert error["data"][0]["field"] == "filename" and "result" not in answer
    assert view.run.emulator.write_count == writes
    assert not any("passwd" in str(r) for r in view.run.emulator.requests[requests:])


# --- metrics -------------------------------------------------------------------------------


async def test_recording_gauges(view: View) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with view.http.get(view.url + "/metrics", headers=headers) as response:
        text = await response.text()
    labels = '{name="front-door",namespace="default"}'
    size = (front_root(view) / (await segments(view, limit=1))["items"][0]["file"]).stat().st_size
    assert f"camctl_recording_segments{labels} {float(FRONT)}" in text
    assert f"camctl_recording_bytes{labels} {float(FRONT * size)}" in text
    assert f"camctl_recording_writing{labels} 0.0" in text  # its newest is hours old
    assert f"camctl_recording_enabled{labels} 1.0" in text  # so CamctlRecordingNotWriting fires
    free = [line for line in text.splitlines() if line.startswith("camctl_recording_disk_")]
    assert len(free) == 4 and all(float(line.split()[-1]) > 0 for line in free)


# --- clients -------------------------------------------------------------------------------


async def test_python_clients(view: View) -> None:
    async with AsyncViewClient(view.url, TOKEN) as client:
        page = await client.segments("front-door", since=T0 + timedelta(minutes=20), limit=4)
        assert [s.start for s in page.items] == [
            T0 + timedelta(minutes=m) for m in (29, 28, 27, 26)
        ]
        assert page.total == 10 and page.items[0].url.startswith("http://127.0.0.1:9996/get?")
        with pytest.raises(RPCError) as missing:
            await client.segments("nope")
        assert missing.value.code == -32004

    def blocking() -> Any:
        with ViewClient(view.url, TOKEN) as client:
            return client.segments("garage", until=at(15), offset=1)

    garage = await asyncio.to_thread(blocking)
    assert [s.start for s in garage.items] == [T0] and garage.total == 2


def camctl_recordings(*args: str) -> Any:
    return CliRunner().invoke(camctl, ["recordings", *args], catch_exceptions=False)


async def test_camctl_recordings(view: View, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(f"{TOKEN}\n")
    common = ["--server", view.url, "--token-file", str(token)]
    text = await asyncio.to_thread(camctl_recordings, "front-door", "--limit", "3", *common)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].split() == ["START", "DURATION", "SIZE", "FILE", "URL"]
    first = lines[1].split()
    assert first[:2] == [at(29), "60s"] and first[3].startswith("cams/front-door/")
    assert first[-1].startswith("http://127.0.0.1:9996/get?path=cams%2Ffront-door&start=")
    assert lines[-1] == f"1-3 of {FRONT} in {front_root(view)}/cams/front-door"
    window = ["--since", at(3), "--until", at(5), "-o", "json"]
    as_json = await asyncio.to_thread(camctl_recordings, "front-door", *window, *common)
    page = json.loads(as_json.output)
    assert [i["start"] for i in page["items"]] == [at(4), at(3)]
    bad = await asyncio.to_thread(camctl_recordings, "front-door", "--since", "soon", *common)
    assert bad.exit_code == 1 and "since" in bad.output and "RFC 3339" in bad.output
    nope = await asyncio.to_thread(camctl_recordings, "nope", *common)
    assert nope.exit_code == 1 and "Recording 'nope' not found" in nope.output


# --- live: each test its own controller ----------------------------------------------------


async def test_a_new_segment_shows_after_the_next_pass(tmp_path: Path) -> None:
    async with serving(tmp_path, **recorded_world(tmp_path)) as v:
        now = datetime.now(UTC).replace(microsecond=0)
        file = v.run.emulator.record("cams/front-door", now - timedelta(seconds=2), 2.0)
        name = file.relative_to(front_root(v)).as_posix()
        # Not read on request: until a pass has scanned it, it is not there.
        answer = await v.call("get_recording_info", {"filename": name})
        assert answer["error"]["code"] == -1005
        assert (await segments(v))["total"] == FRONT
        await v.run.settle()
        page = await segments(v, limit=1)
        assert page["total"] == FRONT + 1 and page["items"][0]["file"] == name
        assert page["items"][0]["size"] == file.stat().st_size
        info = await v.result("get_recording_info", {"filename": name})
        assert info["file_size"] == file.stat().st_size


async def test_recording_status_update_follows_the_recording_condition(tmp_path: Path) -> None:
    async with serving(tmp_path, **recorded_world(tmp_path)) as v, await v.ws("/ws") as ws:
        now = datetime.now(UTC)
        file = v.run.emulator.record("cams/front-door", now - timedelta(seconds=1), 1.0)
        v.run.controller.trigger("test: MediaMTX writes")
        started = await recording_update(ws)
        assert started == {
            "device": "/dev/video0",
            "status": "STARTED",
            "filename": file.relative_to(front_root(v)).as_posix(),
            "duration": 1,
        }
        recordings = v.docs / "recordings.yaml"
        text = recordings.read_text().replace("  stream: front-door\n", "  stream: front-door\n"
                                              "  enabled: false\n")  # fmt: skip
        recordings.write_text(text)
        stopped = await recording_update(ws)
        assert stopped == started | {"status": "STOPPED"}
        await eventually(lambda: writing(v) == "0.0")


def writing(v: View) -> str:
    text = v.run.view.metrics.exposition().decode()
    line = next(x for x in text.splitlines() if x.startswith('camctl_recording_writing{name="fr'))
    return line.split()[-1]


async def recording_update(ws: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive_str(), 10))
        if message.get("method") == "recording_status_update":
            assert "id" not in message
            params: dict[str, Any] = message["params"]
            return params


def test_segments_only_mediamtx_listed_have_no_size_or_file_and_no_old_style_name() -> None:
    from controller.api.kinds import Ref
    from controller.api.recorded import RecordingFiles
    from controller.observe.recordings import listed_by_mediamtx
    from controller.view.recorded import Recorded

    unread = RecordingFiles("/rec", "cams/front-door", (), None, "cannot read /rec: denied")
    listed = listed_by_mediamtx(unread, [at(0), at(1)])
    recorded = Recorded({Ref("Recording", "default", "front-door"): listed}, "http://h:9996")
    items, total = recorded.page(Ref("Recording", "default", "front-door"), None, None, 10, 0)
    assert total == 2 and [(i["size"], i["file"]) for i in items] == [(None, None)] * 2
    assert items[0]["url"].startswith("http://h:9996/get?path=cams%2Ffront-door&start=")
    assert recorded.total == 0 and recorded.newest_first(0, 10) == []  # no file to name
