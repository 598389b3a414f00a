"""Real recordings for tests and the demo: short ffmpeg-made segments, written where MediaMTX
would write them, and MediaMTX's own recordPath encoding and decoding for the emulator.

`clip` makes one real segment per format once per process (ffmpeg's `testsrc`, 1 s, 160x120,
10 fps, H.264) and `write_segments` copies it under camctl's layout, `<root>/<path>/<local time>
.<ext>`, with each file's mtime at its end as MediaMTX leaves it. `record_file` and
`find_segments` follow MediaMTX's recordstore (any recordPath with %path, %Y %m %d %H %M %S %f,
%z or %s), independently of controller.observe.recordings, so each can check the other.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from controller.api.recorded import EXTENSIONS, NAME_FORMAT, RecordFormat

__all__ = [
    "clip",
    "find_segments",
    "record_file",
    "segment_name",
    "write_segment",
    "write_segments",
]

_MUXERS = {
    "fmp4": ["-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof"],
    "mpegts": ["-f", "mpegts"],
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLIPS_LOCK = threading.Lock()
# recordPath variables (MediaMTX recordstore/path.go) and what each matches in a file name.
_VARIABLE = re.compile(r"%(path|[YmdHMSfzs])")
_MATCHES = {"Y": r"\d{4}", "f": r"\d{6}", "z": r"Z|[+-]\d{4}", "s": r"\d{10}"}


def clip(format: RecordFormat) -> Path:
    """A real one-second segment in `format`, made by ffmpeg once per process (do not modify it:
    it is shared)."""
    with _CLIPS_LOCK:
        return _clip(format)


@functools.cache
def _clip(format: RecordFormat) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(
            "ffmpeg is needed to make test recordings (Debian: apt-get install ffmpeg)"
        )
    out = _clip_dir() / f"clip{EXTENSIONS[format]}"
    source = ["-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10"]
    encoder = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10"]
    command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *source, *encoder]
    done = subprocess.run([*command, *_MUXERS[format], str(out)], capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"ffmpeg could not make a {format} clip: {done.stderr.strip()[-500:]}")
    return out


@functools.cache
def _clip_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="camctl-clips-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def segment_name(start: datetime, format: RecordFormat) -> str:
    """The file name MediaMTX gives a segment starting at `start` (aware) under camctl's layout."""
    if start.tzinfo is None:
        raise ValueError("segment start must be timezone-aware")
    return start.astimezone().strftime(NAME_FORMAT) + EXTENSIONS[format]


def write_segment(file: Path, format: RecordFormat, start: datetime, duration: float) -> Path:
    """Copy the clip to `file` (directories made as needed), its mtime at start + duration."""
    file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip(format), file)
    _set_mtime(file, start + timedelta(seconds=duration))
    return file


def write_segments(
    root: str | Path,
    path: str,
    format: RecordFormat,
    starts: Iterable[datetime],
    duration: float,
    link: bool = False,
) -> list[Path]:
    """Segments of MediaMTX path `path` under `root`, one per start. With `link` (benchmarks of
    thousands of files) all are hard links of the first copy, so they share one inode: one size,
    and one mtime, that of the latest start + duration."""
    directory, starts = Path(root, *path.split("/")), list(starts)
    files = [directory / segment_name(start, format) for start in starts]
    if not link:
        return [write_segment(f, format, s, duration) for f, s in zip(files, starts, strict=True)]
    if files:
        write_segment(files[0], format, max(starts), duration)
        for file in files[1:]:
            os.link(files[0], file)
    return files


def _set_mtime(file: Path, when: datetime) -> None:
    ns = (when - _EPOCH) // timedelta(microseconds=1) * 1000  # exact, unlike float seconds
    os.utime(file, ns=(ns, ns))


# --- MediaMTX's recordPath ------------------------------------------------------------------------
def record_file(record_path: str, name: str, format: RecordFormat, start: datetime) -> Path:
    """Where MediaMTX writes the segment of path `name` that starts at `start`: recordPath with
    its variables filled in (times in local time), the format's extension, made absolute."""
    local = start.astimezone()
    values = {v: local.strftime(f"%{v}") for v in "YmdHMSf"}  # zero-padded as MediaMTX does
    values |= {"path": name, "z": _zone(local), "s": str(int(local.timestamp()))}
    filled = _VARIABLE.sub(lambda m: values[m[1]], record_path)
    return Path(os.path.abspath(filled + EXTENSIONS[format]))


def find_segments(record_path: str, name: str, format: RecordFormat) -> list[tuple[datetime, Path]]:
    """Every segment file of path `name` with its start (UTC), sorted, as MediaMTX finds them:
    walk the longest directory without variables, keep the files recordPath describes."""
    pattern = os.path.abspath(record_path.replace("%path", name) + EXTENSIONS[format])
    common = pattern[: pattern.find("%")].rpartition("/")[0] if "%" in pattern else pattern
    decoder = _decoder(pattern)
    found = []
    for directory, _, files in os.walk(common):
        for file in files:
            full = os.path.join(directory, file)
            match = decoder.fullmatch(full)
            if match and (start := _decode(match)) is not None:
                found.append((start, Path(full)))
    return sorted(found)


def _zone(local: datetime) -> str:
    offset = local.utcoffset() or timedelta()
    if not offset:
        return "Z"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{'-' if offset < timedelta() else '+'}{minutes // 60:02d}{minutes % 60:02d}"


def _decoder(pattern: str) -> re.Pattern[str]:
    """A regular expression of a filled-in recordPath; a repeated variable must repeat its value."""
    parts, seen, pos = [], set(), 0
    for match in _VARIABLE.finditer(pattern):
        variable = match[1]
        parts.append(re.escape(pattern[pos : match.start()]))
        matches = _MATCHES.get(variable, r"\d{2}")
        parts.append(f"(?P={variable})" if variable in seen else f"(?P<{variable}>{matches})")
        seen.add(variable)
        pos = match.end()
    return re.compile("".join(parts) + re.escape(pattern[pos:]))


def _decode(match: re.Match[str]) -> datetime | None:
    """The UTC start a decoded file name says: %s if given, else the date in %z or local time."""
    values = match.groupdict()
    micros = timedelta(microseconds=int(values.get("f") or 0))
    if values.get("s"):
        return datetime.fromtimestamp(int(values["s"]), UTC) + micros
    try:
        year, month, day, hour, minute, second = (int(values[v]) for v in "YmdHMS")
        when = datetime(year, month, day, hour, minute, second) + micros
    except (KeyError, ValueError):
        return None
    zone = values.get("z")
    if zone is None:
        return when.astimezone(UTC)  # naive: local time, as MediaMTX decodes it
    offset = timedelta(0) if zone == "Z" else timedelta(hours=int(zone[1:3]), minutes=int(zone[3:]))
    return when.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset)).astimezone(UTC)
