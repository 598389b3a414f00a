"""Recorded segments on disk: the scanner over real ffmpeg-made files, its refusals, its cache,
and the emulator serving the same files through recordings/get and the playback server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.api.recorded import RecordFormat, RecordingFiles
from controller.observe import recordings
from controller.observe.recordings import (
    SegmentScanner,
    UnsafePath,
    allowed,
    listed_by_mediamtx,
)
from controller.testing.mediamtx import MediaMTXEmulator
from controller.testing.recordings import (
    clip,
    find_segments,
    record_file,
    segment_name,
    write_segments,
)

FORMATS: list[RecordFormat] = ["fmp4", "mpegts"]
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
CAM = "front-door"
NOBODY = 65534


def minutes(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets]


def age(directory: Path, seconds: float = 3600) -> None:
    """Backdate a directory, so the scanner trusts its mtime (it distrusts changes this recent)."""
    past = time.time() - seconds
    os.utime(directory, (past, past))


def probe(file: Path) -> dict[str, Any]:
    """What ffprobe decodes of a media file's video stream."""
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames"]
    command += ["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json"]
    done = subprocess.run([*command, str(file)], capture_output=True, text=True, check=True)
    streams: list[dict[str, Any]] = json.loads(done.stdout)["streams"]
    assert len(streams) == 1, done.stdout
    return streams[0]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "rec"
    path.mkdir()
    return path


@pytest.fixture
def scanner(root: Path) -> SegmentScanner:
    return SegmentScanner([str(root)])


NEW_YORK = "EST5EDT,M3.2.0,M11.1.0"  # POSIX TZ rules: no time zone database needed
LORD_HOWE = "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"  # summer time is half an hour ahead


@contextlib.contextmanager
def local_zone(tz: str = NEW_YORK) -> Iterator[None]:
    """Run as if the machine's local time zone were `tz`."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


# --- the media ----------------------------------------------------------------------------------
@pytest.mark.parametrize("format", FORMATS)
def test_clip_is_real_video(format: RecordFormat) -> None:
    stream = probe(clip(format))
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (160, 120)
    assert int(stream["nb_read_frames"]) == 10
    assert clip(format) == clip(format), "made once per process"


def test_segment_name_is_local_time() -> None:
    summer = datetime(2026, 7, 1, 12, 0, 0, 250, tzinfo=UTC)
    with local_zone():
        assert segment_name(T0, "fmp4") == "2026-11-28_03-00-00-000000.mp4"  # EST, UTC-5
        assert segment_name(summer, "mpegts") == "2026-07-01_08-00-00-000250.ts"  # EDT, UTC-4
    with pytest.raises(ValueError, match="aware"):
        segment_name(datetime(2026, 1, 1), "fmp4")


# --- listing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("format", FORMATS)
def test_lists_real_segments(root: Path, scanner: SegmentScanner, format: RecordFormat) -> None:
    starts = minutes(2, 0, 1.5)  # written out of order
    files = write_segments(root, CAM, format, starts, duration=30)
    result = scanner.scan(str(root), CAM, format)
    assert result.error is None and (result.root, result.path) == (str(root), CAM)
    ordered = sorted(zip(starts, files, strict=True))
    assert [s.file for s in result.segments] == [f"{CAM}/{f.name}" for _, f in ordered]
    assert [s.start for s in result.segments] == [s for s, _ in ordered]
    assert all(s.start.tzinfo is UTC and s.modified.tzinfo is UTC for s in result.segments)
    assert [s.duration for s in result.segments] == [90.0, 30.0, 30.0]  # newest: to its mtime
    assert [s.size for s in result.segments] == [clip(format).stat().st_size] * 3
    assert [s.modified for s in result.segments] == [s + timedelta(seconds=30) for s, _ in ordered]
    assert result.segments[0].file.endswith(".mp4" if format == "fmp4" else ".ts")


def test_local_time_round_trip(root: Path, scanner: SegmentScanner) -> None:
    # Summer and winter time, and the first 01:30 of the night clocks go back (1 November 2026).
    starts = [datetime(2026, 11, 1, 5, 30, 0, 123456, tzinfo=UTC), T0, T0.replace(month=7)]
    pattern = f"{root}/%path/%Y-%m-%d_%H-%M-%S-%f"
    with local_zone():
        write_segments(root, "cams/front", "fmp4", starts, duration=1)
        result = scanner.scan(str(root), "cams/front", "fmp4")
        assert record_file(pattern, "cams/front", "fmp4", T0).name == segment_name(T0, "fmp4")
        assert [s for s, _ in find_segments(pattern, "cams/front", "fmp4")] == sorted(starts)
    assert [s.start for s in result.segments] == sorted(starts)
    assert result.segments[0].file == "cams/front/2026-07-28_04-00-00-000000.mp4"  # EDT


@pytest.mark.parametrize(("tz", "day"), [(NEW_YORK, 7), (LORD_HOWE, 3), ("UTC0", 1)])
def test_local_clock_agrees_with_the_zone(tz: str, day: int) -> None:
    """Every quarter hour of three days around the switch to summer time in March (New York)
    or October (Lord Howe Island, at 02:00 local to 02:30), read back through one clock."""
    month = 3 if tz == NEW_YORK else 10
    instant = datetime(2026, month, day, tzinfo=UTC)
    with local_zone(tz):
        clock = recordings._LocalClock()
        for _ in range(24 * 4 * 3):
            name = segment_name(instant, "fmp4")
            assert clock.start(name) == instant, name
            instant += timedelta(minutes=15, microseconds=7)


def test_ignores_what_is_not_a_segment(root: Path, scanner: SegmentScanner) -> None:
    [real] = write_segments(root, CAM, "fmp4", minutes(0), duration=1)
    directory = real.parent
    for junk in ("notes.txt", f"{real.name}.tmp", f"x{real.name}", real.name.replace("_", "T")):
        shutil.copyfile(real, directory / junk)
    shutil.copyfile(real, directory / "2026-13-28_08-00-00-000000.mp4")  # month 13
    (directory / "2026-11-28_09-00-00-000000.mp4").mkdir()  # a directory, named like a segment
    write_segments(root, CAM, "mpegts", minutes(5), duration=1)  # the other format's extension
    write_segments(root, f"{CAM}/sub", "fmp4", minutes(10, 11), duration=1)  # another path's
    assert [s.file for s in scanner.scan(str(root), CAM, "fmp4").segments] == [f"{CAM}/{real.name}"]
    assert len(scanner.scan(str(root), CAM, "mpegts").segments) == 1
    assert len(scanner.scan(str(root), f"{CAM}/sub", "fmp4").segments) == 2


def test_missing_directory_is_no_segments_yet(root: Path, scanner: SegmentScanner) -> None:
    for path in (CAM, "cams/front"):
        result = scanner.scan(str(root), path, "fmp4")
        assert (result.segments, result.error) == ((), None)
        assert result.disk is not None  # of the root, the nearest directory that exists


def test_disk_numbers(root: Path, scanner: SegmentScanner) -> None:
    write_segments(root, CAM, "fmp4", minutes(0), duration=1)
    disk = scanner.scan(str(root), CAM, "fmp4").disk
    assert disk is not None and 0 < disk.free <= disk.total
    st = os.statvfs(root)
    assert disk.total == st.f_blocks * st.f_frsize
    assert abs(disk.free - st.f_bavail * st.f_frsize) < 64 * 2**20  # other writers meanwhile


def test_limit_keeps_the_newest(root: Path) -> None:
    write_segments(root, CAM, "fmp4", minutes(4, 0, 3, 1, 2), duration=1)
    result = SegmentScanner([str(root)], max_segments=3).scan(str(root), CAM, "fmp4")
    assert [s.start for s in result.segments] == minutes(2, 3, 4)
    assert result.segments[0].duration == 60.0, "its next segment is still known"
    assert result.error == "2 older segments not listed (limit 3)"


def test_ten_thousand_segments(root: Path, scanner: SegmentScanner) -> None:
    starts = [T0 + timedelta(seconds=6 * i) for i in range(10_000)]
    write_segments(root, CAM, "fmp4", starts, duration=6, link=True)
    age(root / CAM)
    began = time.perf_counter()
    result = scanner.scan(str(root), CAM, "fmp4")
    uncached = time.perf_counter() - began
    began = time.perf_counter()
    again = scanner.scan(str(root), CAM, "fmp4")
    cached = time.perf_counter() - began
    assert len(result.segments) == 10_000 and result.segments[-1].start == starts[-1]
    assert {s.duration for s in result.segments} == {6.0}
    assert again.segments == result.segments
    # Loose bounds for slow CI machines; measured here: about 70 ms and 0.03 ms.
    assert uncached < 2.0 and cached < 0.05, (uncached, cached)


# --- failures and refusals ----------------------------------------------------------------------
def test_a_root_not_made_yet_has_no_segments_and_the_disk_below_it(tmp_path: Path) -> None:
    """MediaMTX makes the root with its first segment: until then, nothing is wrong."""
    result = SegmentScanner([str(tmp_path)]).scan(str(tmp_path / "not-yet"), CAM, "fmp4")
    assert result.segments == () and result.error is None
    usage = shutil.disk_usage(tmp_path)
    assert result.disk is not None and result.disk.total == usage.total


def test_a_file_where_the_directory_should_be(root: Path, scanner: SegmentScanner) -> None:
    (root / CAM).write_text("not a directory")
    result = scanner.scan(str(root), CAM, "fmp4")
    assert result.segments == () and result.disk is not None
    assert result.error == f"cannot read {root / CAM}: not a directory"


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A recording root that another user may enter (pytest's own temp dir is private)."""
    path = Path(tempfile.mkdtemp(prefix="camctl-rec-"))
    path.chmod(0o755)
    yield path
    for directory in path.rglob("*"):
        directory.chmod(0o755)
    shutil.rmtree(path)


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Act as "nobody" if root: root reads every directory, whatever its mode."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_unreadable_directory(shared_root: Path) -> None:
    write_segments(shared_root, CAM, "fmp4", minutes(0), duration=1)
    (shared_root / CAM).chmod(0)
    with unprivileged():
        result = SegmentScanner([str(shared_root)]).scan(str(shared_root), CAM, "fmp4")
    assert result.segments == () and result.disk is not None
    assert result.error == f"cannot read {shared_root / CAM}: permission denied"


def test_root_outside_the_allowed_roots(tmp_path: Path, root: Path) -> None:
    other = tmp_path / "other"
    write_segments(other, CAM, "fmp4", minutes(0), duration=1)
    scanner = SegmentScanner([str(root)])
    for outside in (str(other), f"{root}/../other", "other", "/"):
        result = scanner.scan(outside, CAM, "fmp4")
        assert result.segments == () and result.disk is None
        assert result.error is not None
        assert result.error.startswith(f"refusing recording root {outside}: not under")
    assert SegmentScanner([]).scan(str(root), CAM, "fmp4").error is not None


@pytest.mark.parametrize(
    ("root", "roots", "expected"),
    [
        ("/rec", ["/rec"], True),
        ("/rec/", ["/rec"], True),
        ("/rec/a/b", ["/srv", "/rec/"], True),
        ("/rec/./a", ["/rec"], True),
        ("/", ["/"], True),
        ("/etc", ["/"], True),
        ("/recordings", ["/rec"], False),  # a prefix of the name is not a parent
        ("/rec/../etc", ["/rec"], False),
        ("/rec/a/../../etc", ["/rec"], False),
        ("/rec", ["/rec/a"], False),
        ("rec", ["rec"], False),  # relative: depends on the working directory
        ("/rec/\0", ["/rec"], False),
        ("/rec", [], False),
    ],
)
def test_allowed(root: str, roots: list[str], expected: bool) -> None:
    assert allowed(root, roots) is expected


@pytest.mark.parametrize("path", ["../rec", "a/../../b", "/abs", "a//b", ".", "a/./b", "a\\b", ""])
def test_unsafe_path_names(root: Path, scanner: SegmentScanner, path: str) -> None:
    result = scanner.scan(str(root), path, "fmp4")
    assert result.segments == () and result.disk is None
    assert result.error is not None and result.error.startswith(f"refusing path name {path!r}")


def test_symlinked_directory_leading_out(
    tmp_path: Path, root: Path, scanner: SegmentScanner
) -> None:
    write_segments(tmp_path / "outside", CAM, "fmp4", minutes(0), duration=1)
    (root / CAM).symlink_to(tmp_path / "outside" / CAM)
    result = scanner.scan(str(root), CAM, "fmp4")
    assert result.segments == ()
    assert result.error is not None and result.error.startswith(f"refusing {root / CAM}: it leads")
    # A symlink that stays inside the root is followed, and names files by the path asked for.
    [real] = write_segments(root, "real", "fmp4", minutes(0), duration=1)
    (root / "alias").symlink_to(root / "real")
    age(root / "real")
    for path in ("real", "alias", "real"):
        result = scanner.scan(str(root), path, "fmp4")
        assert [s.file for s in result.segments] == [f"{path}/{real.name}"]


def test_symlinked_root_leading_out(tmp_path: Path, root: Path, scanner: SegmentScanner) -> None:
    write_segments(tmp_path / "outside", CAM, "fmp4", minutes(0), duration=1)
    (root / "link").symlink_to(tmp_path / "outside")
    result = scanner.scan(str(root / "link"), CAM, "fmp4")
    assert result.segments == ()
    assert result.error is not None and "leads out of" in result.error


def test_symlinked_segment_leading_out(tmp_path: Path, root: Path, scanner: SegmentScanner) -> None:
    [outside] = write_segments(tmp_path / "outside", CAM, "fmp4", minutes(0), duration=1)
    [inside] = write_segments(root, "other", "fmp4", minutes(1), duration=1)
    directory = root / CAM
    directory.mkdir()
    (directory / outside.name).symlink_to(outside)
    (directory / inside.name).symlink_to(inside)
    result = scanner.scan(str(root), CAM, "fmp4")
    assert [s.file for s in result.segments] == [f"{CAM}/{inside.name}"], "only the inside one"
    assert result.segments[0].size == inside.stat().st_size  # the target's, not the link's
    with pytest.raises(UnsafePath, match="leads out"):
        scanner.resolve(str(root), f"{CAM}/{outside.name}")


def test_resolve(root: Path, scanner: SegmentScanner) -> None:
    [real] = write_segments(root, "cams/front", "mpegts", minutes(0), duration=1)
    resolved = scanner.resolve(str(root), f"cams/front/{real.name}")
    assert resolved == Path(os.path.realpath(real))
    assert resolved.read_bytes() == clip("mpegts").read_bytes()
    listed = scanner.scan(str(root), "cams/front", "mpegts").segments[0].file
    assert scanner.resolve(str(root), listed) == resolved
    with pytest.raises(FileNotFoundError):
        scanner.resolve(str(root), f"cams/front/{segment_name(T0 + timedelta(1), 'fmp4')}")
    with pytest.raises(UnsafePath, match="not under an allowed root"):
        SegmentScanner(["/nowhere"]).resolve(str(root), f"cams/front/{real.name}")


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        ("../x", "components"),
        ("/etc/passwd", "absolute"),
        ("a/../../b", "components"),
        (f"cams/../../{segment_name(T0, 'fmp4')}", "components"),
        ("cams/front/\0.mp4", "NUL"),
        ("cams\\front\\2026-11-28_08-00-00-000000.mp4", "backslash"),
        ("cams/front/notes.txt", "segment name"),
        ("2026-11-28_08-00-00-000000.mp4", "segment name"),  # no path name
    ],
)
def test_resolve_refuses(root: Path, scanner: SegmentScanner, file: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        scanner.resolve(str(root), file)


# --- the cache ----------------------------------------------------------------------------------
@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The directories the scanner lists (not served from its cache)."""
    listed: list[str] = []

    def scandir(path: str) -> Any:
        listed.append(path)
        return real_scandir(path)

    real_scandir = os.scandir
    monkeypatch.setattr(recordings.os, "scandir", scandir)
    return listed


def test_cache(root: Path, scanner: SegmentScanner, listings: list[str]) -> None:
    [_, newest] = write_segments(root, CAM, "fmp4", minutes(0, 1), duration=1)
    age(root / CAM)
    first = scanner.scan(str(root), CAM, "fmp4")
    assert scanner.scan(str(root), CAM, "fmp4").segments == first.segments
    assert len(listings) == 1
    # MediaMTX appends to the newest segment: seen without listing the directory again.
    with newest.open("ab") as out:
        out.write(b"\0" * 100)
    later = (T0 + timedelta(minutes=1, seconds=40)).timestamp()
    os.utime(newest, (later, later))
    grown = scanner.scan(str(root), CAM, "fmp4")
    assert len(listings) == 1
    assert grown.segments[:1] == first.segments[:1]
    expected = replace(
        first.segments[1],
        size=first.segments[1].size + 100,
        duration=40.0,
        modified=datetime.fromtimestamp(later, UTC),
    )
    assert grown.segments[1] == expected
    # A new segment changes the directory.
    write_segments(root, CAM, "fmp4", minutes(2), duration=1)
    assert [s.start for s in scanner.scan(str(root), CAM, "fmp4").segments] == minutes(0, 1, 2)
    assert len(listings) == 2


def test_recent_directories_are_not_trusted(
    root: Path, scanner: SegmentScanner, listings: list[str]
) -> None:
    write_segments(root, CAM, "fmp4", minutes(0), duration=1)
    scanner.scan(str(root), CAM, "fmp4")
    # Changed a moment ago: a file made in the same clock tick may not show in its mtime yet.
    mtime_ns = (root / CAM).stat().st_mtime_ns
    write_segments(root, CAM, "fmp4", minutes(1), duration=1)
    os.utime(root / CAM, ns=(mtime_ns, mtime_ns))
    assert len(scanner.scan(str(root), CAM, "fmp4").segments) == 2 and len(listings) == 2


def test_cache_notices_a_deleted_newest(root: Path, scanner: SegmentScanner) -> None:
    files = write_segments(root, CAM, "fmp4", minutes(0, 1), duration=1)
    age(root / CAM)
    mtime_ns = (root / CAM).stat().st_mtime_ns
    assert len(scanner.scan(str(root), CAM, "fmp4").segments) == 2
    files[1].unlink()
    os.utime(root / CAM, ns=(mtime_ns, mtime_ns))  # as if in the same clock tick
    assert len(scanner.scan(str(root), CAM, "fmp4").segments) == 1


# --- the emulator serves real files -------------------------------------------------------------
@pytest.fixture
async def http(emu: MediaMTXEmulator) -> AsyncIterator[httpx.AsyncClient]:
    assert emu.url is not None
    async with httpx.AsyncClient(base_url=emu.url) as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("format", FORMATS)
async def test_emulator_recordings_are_files(
    emu: MediaMTXEmulator, http: httpx.AsyncClient, tmp_path: Path, format: RecordFormat
) -> None:
    root = tmp_path / "rec"
    conf = {
        "record": True,
        "recordFormat": format,
        "recordPath": f"{root}/%path/%Y-%m-%d_%H-%M-%S-%f",
    }
    emu.set_path("cams/front", conf)
    written = [emu.record("cams/front", start) for start in minutes(1, 0)]
    assert written[0] == root / "cams" / "front" / segment_name(minutes(1)[0], format)
    body = (await http.get("/v3/recordings/get/cams/front")).json()
    assert body == {
        "name": "cams/front",
        "segments": [{"start": "2026-11-28T08:00:00Z"}, {"start": "2026-11-28T08:01:00Z"}],
    }
    # camctl's scanner reads what "MediaMTX" wrote.
    scanned = SegmentScanner([str(root)]).scan(str(root), "cams/front", format)
    assert [s.start for s in scanned.segments] == minutes(0, 1)
    # Files that are not this path's segments are not listed.
    (root / "cams" / "front" / "notes.txt").write_text("x")
    write_segments(root, "cams/front/sub", format, minutes(5), duration=1)
    assert len((await http.get("/v3/recordings/get/cams/front")).json()["segments"]) == 2


@pytest.mark.anyio
async def test_emulator_record_needs_a_recording_path(emu: MediaMTXEmulator) -> None:
    emu.set_path("cam", {})
    with pytest.raises(ValueError, match="does not record"):
        emu.record("cam", T0)
    with pytest.raises(ValueError, match="not configured"):
        emu.record("nope", T0)


@pytest.mark.anyio
@pytest.mark.parametrize("format", FORMATS)
async def test_playback_get(
    emu: MediaMTXEmulator, http: httpx.AsyncClient, tmp_path: Path, format: RecordFormat
) -> None:
    conf = {"record": True, "recordFormat": format, "recordPath": f"{tmp_path}/%path/%s-%f"}
    emu.set_path("cam", conf)
    first = emu.record("cam", T0, duration=60)
    (first.parent / "later.bin").write_bytes(b"")  # not a segment
    last = emu.record("cam", T0 + timedelta(minutes=1), duration=30)
    query = {"path": "cam", "start": "2026-11-28T08:00:30Z", "duration": "10"}
    answer = await http.get("/get", params=query)
    assert answer.status_code == 200, answer.text
    expected = "video/mp4" if format == "fmp4" else "video/MP2T"
    assert answer.headers["content-type"] == expected
    assert answer.content == first.read_bytes()
    downloaded = tmp_path / f"download{first.suffix}"
    downloaded.write_bytes(answer.content)
    assert probe(downloaded)["codec_name"] == "h264"
    in_last = {**query, "start": "2026-11-28T03:01:10-05:00", "format": "mp4"}
    assert (await http.get("/get", params=in_last)).content == last.read_bytes()
    for start in ("2026-11-28T07:59:59Z", "2026-11-28T08:01:31Z"):  # before, after the newest
        missing = await http.get("/get", params={**query, "start": start})
        assert missing.status_code == 404
        assert missing.json()["error"] == "no recording segments found"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"start": "2026-11-28 08:00:00"}, "invalid start"),
        ({"start": "2026-11-28T08:00:00"}, "invalid start"),  # no zone
        ({"start": "2026-13-28T08:00:00Z"}, "invalid start"),
        ({"duration": ""}, 'invalid duration: time: invalid duration ""'),
        ({"duration": "ten"}, "invalid duration"),
        ({"format": "mkv"}, "invalid format: mkv"),
        ({"path": "nope"}, "path 'nope' is not configured"),
    ],
)
async def test_playback_get_bad_requests(
    emu: MediaMTXEmulator, http: httpx.AsyncClient, params: dict[str, str], error: str
) -> None:
    emu.set_path("cam", {"record": True})
    query = {"path": "cam", "start": "2026-11-28T08:00:00Z", "duration": "1.5", **params}
    answer = await http.get("/get", params=query)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)


@pytest.mark.anyio
async def test_playback_accepts_go_durations(
    emu: MediaMTXEmulator, http: httpx.AsyncClient, record_path: str
) -> None:
    emu.set_path("cam", {"record": True, "recordPath": record_path})
    emu.record("cam", T0)
    for duration in ("1m30s", "90", "1e1", ".5"):
        query = {"path": "cam", "start": "2026-11-28T08:00:00.5Z", "duration": duration}
        assert (await http.get("/get", params=query)).status_code == 200, duration


def test_mediamtx_listing_stands_in_for_unreadable_files() -> None:
    unread = RecordingFiles("/rec", "cams/front", (), None, "cannot read /rec: denied")
    listed = listed_by_mediamtx(
        unread,
        ["2026-11-28T09:00:10.123456789+01:00", "2026-11-28T08:00:00Z"],  # Go's nanoseconds
    )
    first, second = listed.segments
    assert first.start == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert second.start == datetime(2026, 11, 28, 8, 0, 10, 123456, tzinfo=UTC)
    assert first.duration == 10.123456 and second.duration == 0.0
    assert (first.size, first.file) == (None, "") and listed.listed_by == "mediamtx"
    assert listed.error == unread.error and listed.disk is None
