"""Recorded segments on disk: what MediaMTX has written for a Recording, read safely and fast.

camctl fixes the layout: a Recording's segments are `<root>/<path name>/<YYYY-mm-dd_HH-MM-SS-ffffff>
.<ext>` (MediaMTX recordPath `<root>/%path/%Y-%m-%d_%H-%M-%S-%f`; MediaMTX appends `.mp4` for
fmp4 and `.ts` for mpegts). MediaMTX writes the time in its local zone, so names are read as local
time; every datetime returned is timezone-aware UTC. In the hour repeated when clocks go back a
name is ambiguous; it is read as the first of the two instants, as Go leaves it open too.

Safety: only directories at or under the allowed roots given to `SegmentScanner` are ever read,
path and file names with `..`, `.`, empty components, NUL or backslash are refused, and symlinks
are resolved and must stay inside the (real) root: a directory or segment file that leads out is
refused or skipped. This guards against what is on disk when it is read; the recordings tree is
assumed writable only by MediaMTX (a racing writer could still swap a component afterwards).

Cost and limits: the calls block (the controller runs them through asyncio.to_thread). A directory
is listed once with os.scandir and one lstat per segment; the result is cached per directory,
keyed by its mtime, so an unchanged directory costs a stat of it and of its newest segment (the
one MediaMTX is still writing). A directory changed within the last `RACY_SECONDS` is not cached:
its mtime may not yet show a file created in the same clock tick (FAT keeps 2 s). At most
`MAX_SEGMENTS` segments are listed per directory, the newest; `error` then says how many older
ones were left out. At most `CACHE_SIZE` directories are cached (least recently used goes).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import re
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.api.recorded import (
    EXTENSIONS,
    Disk,
    RecordFormat,
    RecordingFiles,
    Segment,
)

__all__ = [
    "CACHE_SIZE",
    "MAX_SEGMENTS",
    "SegmentScanner",
    "UnsafePath",
    "allowed",
    "listed_by_mediamtx",
]

log = logging.getLogger(__name__)

MAX_SEGMENTS = 100_000
CACHE_SIZE = 1024
RACY_SECONDS = 3
_STAMP = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d{6}"
_NAMES = {fmt: re.compile(_STAMP + re.escape(ext)) for fmt, ext in EXTENSIONS.items()}
_ANY_NAME = re.compile(_STAMP + "(?:" + "|".join(map(re.escape, EXTENSIONS.values())) + ")")


_FRACTION = re.compile(r"(\.\d{6})\d+")  # Go writes nanoseconds; Python reads microseconds


def listed_by_mediamtx(unread: RecordingFiles, starts: Sequence[str]) -> RecordingFiles:
    """`unread`, with the segments MediaMTX lists for its path instead of none; start
    times it gives that do not parse are left out."""
    times = sorted(filter(None, map(_start_time, starts)))
    segments = tuple(
        Segment("", start, (end - start).total_seconds() if end else 0.0, None, end or start)
        for start, end in itertools.zip_longest(times, times[1:])
    )
    return replace(unread, segments=segments, listed_by="mediamtx")


def _start_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


class UnsafePath(ValueError):
    """A root, path name or file name was refused; the message says which and why."""


def allowed(root: str, roots: Sequence[str]) -> bool:
    """Whether `root` is one of `roots` or under one, compared lexically after os.path.normpath
    (so "/rec/../etc" is not under "/rec"). Relative paths and NULs are never allowed."""
    candidate = _normal(root)
    return candidate is not None and any(
        base is not None and _within(candidate, base) for base in map(_normal, roots)
    )


def _normal(path: str) -> str | None:
    return os.path.normpath(path) if "\0" not in path and os.path.isabs(path) else None


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _components(name: str, what: str) -> list[str]:
    """The "/"-separated parts of a relative name; UnsafePath for anything that could escape."""
    parts = name.split("/")
    if "\0" in name or "\\" in name:
        reason = "it contains a NUL or a backslash"
    elif name.startswith("/"):
        reason = "it is absolute"
    elif any(part in ("", ".", "..") for part in parts):
        reason = "empty, '.' and '..' components are not allowed"
    else:
        return parts
    raise UnsafePath(f"refusing {what} {name!r}: {reason}")


def _reason(exc: OSError) -> str:
    text = exc.strerror or type(exc).__name__
    return text[:1].lower() + text[1:]


class _LocalClock:
    """Reads segment names, in local time, as UTC. Converting a local time costs a mktime, so the
    UTC offset is found once per local hour and reused for the names in it; an hour whose offset
    differs between its start and its end (a shift off the hour) is converted name by name."""

    def __init__(self) -> None:
        self._offsets: dict[str, timedelta | None] = {}

    def start(self, name: str) -> datetime | None:
        """The UTC start of a name that matched _STAMP; None if it is no date (month 13)."""
        iso = f"{name[:10]}T{name[11:13]}:{name[14:16]}:{name[17:19]}.{name[20:26]}"
        try:
            local = datetime.fromisoformat(iso)
        except ValueError:
            return None
        hour = name[:13]
        if hour not in self._offsets:
            self._offsets[hour] = _steady_offset(local)
        offset = self._offsets[hour]
        if offset is None:
            return local.astimezone(UTC)  # a naive datetime is taken as local time
        return (local - offset).replace(tzinfo=UTC)


def _steady_offset(local: datetime) -> timedelta | None:
    """The local zone's UTC offset throughout the hour of `local`, or None if it changes."""
    first = local.replace(minute=0, second=0, microsecond=0)
    last = first + timedelta(hours=1, microseconds=-1)
    offset = first.astimezone().utcoffset()
    return offset if offset == last.astimezone().utcoffset() else None


def _disk(directory: str) -> Disk | None:
    """Free and total bytes of the file system holding `directory`, or its nearest existing
    ancestor (MediaMTX creates the directories, root included, on its first segment; statvfs
    reads no file, only the file system's counters)."""
    probe = directory
    while True:
        try:
            st = os.statvfs(probe)
        except (FileNotFoundError, NotADirectoryError):
            if probe == os.path.dirname(probe):
                return None
            probe = os.path.dirname(probe)
            continue
        except OSError:
            return None
        return Disk(free=st.f_bavail * st.f_frsize, total=st.f_blocks * st.f_frsize)


def _build(path: str, found: list[tuple[datetime, str, os.stat_result]]) -> list[Segment]:
    """Segments from (start, name, stat) sorted by start; durations run to the next start."""
    segments = []
    for i, (start, name, st) in enumerate(found):
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        end = found[i + 1][0] if i + 1 < len(found) else modified
        duration = max(0.0, (end - start).total_seconds())
        segments.append(Segment(f"{path}/{name}", start, duration, st.st_size, modified))
    return segments


@dataclass(frozen=True, slots=True)
class _Listing:
    """One directory's segments as last read, and what tells whether they are still right."""

    mtime_ns: int  # of the directory
    segments: tuple[Segment, ...]
    note: str | None
    newest: str  # the newest segment's file, to re-stat (it still grows); "" when none
    newest_stat: tuple[int, int]  # its (size, mtime_ns)


class SegmentScanner:
    """Scans `<root>/<path>/` for one Recording's segments; caches per directory, keyed by the
    directory's mtime_ns, so an unchanged directory costs one stat plus a stat of the newest file
    (which MediaMTX is still writing). Thread-safe; every call blocks on the file system."""

    def __init__(self, roots: Sequence[str], *, max_segments: int = MAX_SEGMENTS) -> None:
        # The only directories ever read; relative ones are taken from the working directory now.
        self.roots = tuple(os.path.abspath(r) for r in roots if "\0" not in r)
        self.max_segments = max_segments
        self._cache: OrderedDict[tuple[str, str, str], _Listing] = OrderedDict()
        self._lock = threading.Lock()

    def scan(self, root: str, path: str, format: RecordFormat) -> RecordingFiles:
        """The segments of MediaMTX path `path` under `root`; never raises for what is on disk:
        a missing directory is zero segments, anything unreadable or refused sets `error`."""
        return self.scan_many([(root, path, format)])[0]

    def scan_many(self, wanted: Sequence[tuple[str, str, RecordFormat]]) -> list[RecordingFiles]:
        """scan() of several (root, path, format); each root, and each file system's free
        space, is looked at once for all."""
        roots: dict[str, tuple[str, str | None]] = {}
        disks: dict[str | int, Disk | None] = {}  # by root, or by st_dev
        found = []
        for root, path, format in wanted:
            if root not in roots:
                roots[root] = self._checked_root(root)
            found.append(self._scan(root, *roots[root], path, format, disks))
        return found

    def _checked_root(self, root: str) -> tuple[str, str | None]:
        """The root's realpath, or why it cannot be used."""
        try:
            return self._real_root(root), None
        except UnsafePath as exc:
            return "", str(exc)
        except OSError as exc:  # the root itself is missing or unusable
            return "", f"cannot read {root}: {_reason(exc)}"

    def _scan(
        self,
        root: str,
        real_root: str,
        error: str | None,
        path: str,
        format: RecordFormat,
        disks: dict[str | int, Disk | None],
    ) -> RecordingFiles:
        if error is not None:
            return RecordingFiles(root, path, (), None, error)
        try:
            parts = _components(path, "path name")
            st = os.stat(os.path.join(real_root, *parts))
        except UnsafePath as exc:
            return RecordingFiles(root, path, (), None, str(exc))
        except FileNotFoundError:  # MediaMTX has not written a segment yet: one stat is all
            if real_root not in disks:
                disks[real_root] = _disk(real_root)
            return RecordingFiles(root, path, (), disks[real_root])
        except OSError as exc:
            reason = f"cannot read {os.path.join(root, *parts)}: {_reason(exc)}"
            return RecordingFiles(root, path, (), None, reason)
        try:
            directory, display = self._directory(real_root, root, parts)
        except UnsafePath as exc:
            return RecordingFiles(root, path, (), None, str(exc))
        if st.st_dev not in disks:
            disks[st.st_dev] = _disk(directory)
        try:
            segments, note = self._segments(directory, st.st_mtime_ns, real_root, path, format)
        except FileNotFoundError:  # removed since the stat above: as if never written
            return RecordingFiles(root, path, (), disks[st.st_dev])
        except OSError as exc:
            reason = f"cannot read {display}: {_reason(exc)}"
            return RecordingFiles(root, path, (), disks[st.st_dev], reason)
        return RecordingFiles(root, path, segments, disks[st.st_dev], note)

    def resolve(self, root: str, file: str) -> Path:
        """The real location of one segment `file` ("<path name>/<segment name>", as in
        Segment.file) for a download; UnsafePath if refused, FileNotFoundError if missing."""
        parts = _components(file, "file name")
        if len(parts) < 2 or not _ANY_NAME.fullmatch(parts[-1]):
            raise UnsafePath(f"refusing file name {file!r}: not <path name>/<segment name>")
        real_root = self._real_root(root)
        real = os.path.realpath(os.path.join(real_root, *parts))
        if not _within(real, real_root):
            raise UnsafePath(f"refusing file name {file!r}: it leads out of {root} (to {real})")
        if not os.path.isfile(real):
            raise FileNotFoundError(errno.ENOENT, "no such recording segment", file)
        return Path(real)

    # --- locating -----------------------------------------------------------------------------
    def _real_root(self, root: str) -> str:
        """The realpath of an allowed root; it must also stay inside an allowed root's realpath."""
        absolute = os.path.abspath(root) if "\0" not in root else root
        bases = [base for base in self.roots if allowed(absolute, [base])]
        if not bases:
            listed = ", ".join(self.roots) or "none configured"
            raise UnsafePath(
                f"refusing recording root {root}: not under an allowed root ({listed})"
            )
        real = os.path.realpath(absolute)
        if not any(_within(real, os.path.realpath(base)) for base in bases):
            raise UnsafePath(f"refusing recording root {root}: it leads out of {bases[0]} ({real})")
        with contextlib.suppress(FileNotFoundError):  # not yet made: no segments yet
            if not stat.S_ISDIR(os.stat(real).st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), root)
        return real

    @staticmethod
    def _directory(real_root: str, root: str, parts: list[str]) -> tuple[str, str]:
        """The real directory of a path name and the name to show for it in messages."""
        display = os.path.join(root, *parts)
        real = os.path.realpath(os.path.join(real_root, *parts))
        if not _within(real, real_root):
            raise UnsafePath(f"refusing {display}: it leads out of the recording root ({real})")
        return real, display

    # --- listing ------------------------------------------------------------------------------
    def _segments(
        self, directory: str, mtime_ns: int, real_root: str, path: str, format: RecordFormat
    ) -> tuple[tuple[Segment, ...], str | None]:
        """`mtime_ns` is the directory's, taken before listing it: a later change shows."""
        key = (directory, path, format)  # the path name too: it prefixes every Segment.file
        with self._lock:
            cached = self._cache.get(key)
        listing = self._refresh(cached) if cached and cached.mtime_ns == mtime_ns else None
        if listing is None:
            listing = self._read(directory, real_root, path, format, mtime_ns)
        if time.time_ns() - mtime_ns > RACY_SECONDS * 10**9:
            self._remember(key, listing)
        return listing.segments, listing.note

    @staticmethod
    def _refresh(listing: _Listing) -> _Listing | None:
        """The cached listing with its newest segment re-read; None if that file went away."""
        if not listing.newest:
            return listing
        try:
            st = os.stat(listing.newest)
        except OSError:
            return None
        if (st.st_size, st.st_mtime_ns) == listing.newest_stat:
            return listing
        last = listing.segments[-1]
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        duration = max(0.0, (modified - last.start).total_seconds())
        grown = replace(last, size=st.st_size, modified=modified, duration=duration)
        newest_stat = (st.st_size, st.st_mtime_ns)
        segments = (*listing.segments[:-1], grown)
        return replace(listing, segments=segments, newest_stat=newest_stat)

    def _read(
        self, directory: str, real_root: str, path: str, format: RecordFormat, mtime_ns: int
    ) -> _Listing:
        pattern, clock, named = _NAMES[format], _LocalClock(), []
        with os.scandir(directory) as entries:
            for entry in entries:
                if pattern.fullmatch(entry.name) and (start := clock.start(entry.name)):
                    named.append((start, entry))
        named.sort(key=lambda item: item[0])
        dropped = max(0, len(named) - self.max_segments)
        found, newest = [], ""
        for start, entry in named[dropped:]:
            if (located := _stat(entry, real_root)) is not None:
                newest, st = located
                found.append((start, entry.name, st))
        note = (
            f"{dropped} older segments not listed (limit {self.max_segments})" if dropped else None
        )
        newest_stat = (found[-1][2].st_size, found[-1][2].st_mtime_ns) if found else (0, 0)
        return _Listing(mtime_ns, tuple(_build(path, found)), note, newest, newest_stat)

    def _remember(self, key: tuple[str, str, str], listing: _Listing) -> None:
        with self._lock:
            self._cache[key] = listing
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)


def _stat(entry: os.DirEntry[str], real_root: str) -> tuple[str, os.stat_result] | None:
    """A segment's file and stat: regular files as they are, symlinks only when they resolve to
    a regular file inside the root; None for anything else or a file deleted meanwhile."""
    try:
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
            if not _within(real, real_root):
                log.debug("skipping %s: it leads out of the recording root (%s)", entry.path, real)
                return None
            file, st = real, os.stat(real)
        else:
            file, st = entry.path, entry.stat(follow_symlinks=False)
    except OSError:
        return None
    return (file, st) if stat.S_ISREG(st.st_mode) else None
