"""Recorded segments as facts: what MediaMTX wrote for a Recording, and the disk it is on.

The layout is camctl's: `<root>/<path>/<start time>.mp4|.ts`, the start in MediaMTX's
`%Y-%m-%d_%H-%M-%S-%f`. The observer reads them (controller.observe.recordings); the planner
and the view only look at these values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

RecordFormat = Literal["fmp4", "mpegts"]
EXTENSIONS: dict[str, str] = {"fmp4": ".mp4", "mpegts": ".ts"}
NAME_FORMAT = "%Y-%m-%d_%H-%M-%S-%f"  # strftime of a segment name, before the extension


@dataclass(frozen=True, slots=True)
class Segment:
    file: str  # POSIX path relative to the root: "front-door/2026-11-28_08-00-00-000000.mp4"
    start: datetime  # aware, UTC
    duration: float  # seconds to the next segment's start; the newest: to its mtime (>= 0)
    size: int | None  # bytes; None when only MediaMTX's listing was seen (file "" then)
    modified: datetime  # aware, UTC


@dataclass(frozen=True)
class Disk:
    free: int  # bytes available to unprivileged users (statvfs f_bavail * f_frsize)
    total: int


@dataclass(frozen=True)
class RecordingFiles:
    root: str
    path: str  # MediaMTX path name
    segments: tuple[Segment, ...]  # sorted by start
    disk: Disk | None  # None when the root cannot be examined
    error: str | None = None  # one line for status and logs
    # "mediamtx": the files could not be read, the segments are MediaMTX's own listing
    # (/v3/recordings/get): starts and durations, no sizes or file names.
    listed_by: Literal["files", "mediamtx"] = "files"
