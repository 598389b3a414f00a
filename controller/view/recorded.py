"""Recorded segments as the view serves them: newest first, windowed by time, with playback URLs.

The snapshot keeps a reference to each Recording's segment tuple as the pass's scan left it
(sorted by start); nothing is copied per pass. A request finds its time window by bisecting
the starts and builds only the page it returns, so 10,000 segments cost what 100 do. Each
segment's `url` is MediaMTX's playback server, which remuxes the span to fMP4 on the fly:
`http://{public_host}:{playback_port}/get?path=…&start=…&duration=…&format=fmp4`.
Nothing here reads the disk: a file name is answered only if the last scan found it.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from controller.api.kinds import Ref
from controller.api.recorded import RecordingFiles, Segment
from controller.api.settings import Settings
from controller.reconcile.plan import url_host

Doc = dict[str, Any]
Found = tuple[RecordingFiles, Segment]


def playback_base(settings: Settings) -> str:
    """MediaMTX's playback server as people reach it (public host, playback port)."""
    return f"http://{url_host(settings.public_host)}:{settings.playback_port}"


def rfc3339(when: datetime) -> str:
    """UTC with a Z; microseconds only when there are some (segment names carry them)."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _start(segment: Segment) -> datetime:
    return segment.start


def window(segments: Sequence[Segment], since: datetime | None, until: datetime | None) -> range:
    """Indexes of the segments that overlap [since, until): bisected, never scanned. Durations
    run to the next segment's start, so only the one just before `since` can reach into it."""
    lo, hi = 0, len(segments)
    if since is not None:
        lo = bisect_left(segments, since, key=_start)
        if lo and segments[lo - 1].start + timedelta(seconds=segments[lo - 1].duration) > since:
            lo -= 1
    if until is not None:
        hi = bisect_left(segments, until, lo=lo, key=_start)
    return range(lo, max(lo, hi))


class Recorded:
    """Every Recording's segments as the last pass found them, and the answers made of them."""

    def __init__(self, files: Mapping[Ref, RecordingFiles] | None = None, base: str = "") -> None:
        self.files: Mapping[Ref, RecordingFiles] = files or {}
        # The old service's calls name files: only those camctl itself saw.
        self.seen = {k: f for k, f in self.files.items() if f.listed_by == "files"}
        self.base = base
        self._prefixes: dict[str, str] = {}

    # --- one segment ----------------------------------------------------------------------
    def url(self, files: RecordingFiles, segment: Segment) -> str:
        prefix = self._prefixes.get(files.path)
        if prefix is None:  # once per path and snapshot: quoting is most of an item's cost
            prefix = self._prefixes[files.path] = f"{self.base}/get?path={quote(files.path, '')}"
        start = quote(rfc3339(segment.start), "")
        return f"{prefix}&start={start}&duration={round(segment.duration, 3)}&format=fmp4"

    def item(self, files: RecordingFiles, segment: Segment) -> Doc:
        """One segment as `recordings.segments` lists it."""
        return {
            "start": rfc3339(segment.start),
            "duration": round(segment.duration, 3),
            "size": segment.size,
            "file": segment.file or None,  # None: listed by MediaMTX, the file not seen
            "url": self.url(files, segment),
        }

    def file_object(self, found: Found) -> Doc:
        """One segment as the old camera service described a file."""
        files, segment = found
        return {
            "filename": segment.file,
            "file_size": segment.size,
            "modified_time": rfc3339(segment.modified),
            "download_url": self.url(files, segment),
        }

    # --- one Recording --------------------------------------------------------------------
    def page(
        self, key: Ref, since: datetime | None, until: datetime | None, limit: int, offset: int
    ) -> tuple[list[Doc], int]:
        """A page of one Recording's segments in the window, newest first, and the total."""
        files = self.files.get(key)
        if files is None:
            return [], 0
        segments = files.segments
        span = window(segments, since, until)
        newest_first = span[::-1][offset : offset + limit]
        return [self.item(files, segments[i]) for i in newest_first], len(span)

    def newest(self, key: Ref) -> Segment | None:
        files = self.files.get(key)
        return files.segments[-1] if files and files.segments else None

    # --- every Recording ------------------------------------------------------------------
    @property
    def total(self) -> int:
        return sum(len(f.segments) for f in self.seen.values())

    def newest_first(self, offset: int, limit: int) -> list[Found]:
        """Segments of every Recording merged newest first: a page costs offset + limit steps."""
        runs = [
            zip(itertools.repeat(files), reversed(files.segments), strict=False)
            for _, files in sorted(self.seen.items())
        ]
        merged = heapq.merge(*runs, key=lambda found: found[1].start, reverse=True)
        return list(itertools.islice(merged, offset, offset + limit))

    def find(self, file: str) -> Found | None:
        return self._by_file.get(file)

    @cached_property
    def _by_file(self) -> dict[str, Found]:
        """File name -> segment, built on the first lookup of a snapshot (not on every pass)."""
        index: dict[str, Found] = {}
        for _, files in sorted(self.seen.items()):
            for segment in files.segments:
                index.setdefault(segment.file, (files, segment))
        return index
