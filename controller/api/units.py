"""Durations, bitrates and MediaMTX path names, parsed and checked at load time.

MediaMTX reads durations with an extra `d` (day) unit and writes them back in its own
canonical form (`1d`, `1h0m0s`), so camctl renders that same form: a value it writes
reads back identical, and planning again finds nothing to change.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_BITRATE = re.compile(r"(\d+(?:\.\d+)?)([kKmMgG]?)")
_BITRATE_FACTOR = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
_PATH_NAME = re.compile(r"[0-9A-Za-z_\-/.]+")
RESERVED_PATH_NAMES = frozenset({"all", "all_others"})
DAY_NS = _NANOS["d"]
# MediaMTX keeps durations as Go's time.Duration, nanoseconds in an int64: about 292 years.
MAX_DURATION_NS = 2**63 - 1
MAX_BITRATE = 100_000_000_000  # bits per second, far above any camera


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> int:
    """Nanoseconds in a Go-style duration with days: `30s`, `1h30m`, `7d`, `1d12h`."""
    text = text.strip()
    if text in ("0", ""):
        if text == "":
            raise ValueError("empty duration")
        return 0
    pos, total = 0, Decimal(0)
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += Decimal(match.group(1)) * _NANOS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {_cut(text)!r} (use e.g. 30s, 10m, 1h, 7d)")
    if total > MAX_DURATION_NS:
        raise ValueError(
            f"duration {_cut(text)!r} is too long (at most {MAX_DURATION_NS // DAY_NS}d)"
        )
    return int(total)


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def format_duration(nanos: int) -> str:
    """MediaMTX's own form: whole days as `Nd`, then Go's time.Duration.String()."""
    days, rest = divmod(nanos, DAY_NS)
    out = f"{days}d" if days else ""
    if rest or not days:
        out += _go_duration(rest)
    return out


def _go_duration(nanos: int) -> str:
    if nanos == 0:
        return "0s"
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return _trim(Decimal(nanos) / size) + unit
    hours, rest = divmod(nanos, _NANOS["h"])
    minutes, rest = divmod(rest, _NANOS["m"])
    seconds = _trim(Decimal(rest) / _NANOS["s"]) + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


def _trim(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def normalize_duration(text: str) -> str:
    """The canonical MediaMTX spelling of a duration, for comparing read values."""
    return format_duration(parse_duration(text))


def parse_bitrate(text: str | int) -> int:
    """Bits per second from `2M`, `800k`, `1.5M` or a plain number."""
    match = _BITRATE.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"invalid bitrate {text!r} (use e.g. 800k, 2M)")
    bits = Decimal(match.group(1)) * _BITRATE_FACTOR[match.group(2).lower()]
    if bits <= 0:
        raise ValueError("bitrate must be positive")
    if bits > MAX_BITRATE:
        raise ValueError("bitrate must be at most 100G")
    return int(bits)


def check_path_name(name: str) -> str:
    """Refuse names MediaMTX would refuse, and regex (`~`) or reserved ones."""
    if not name:
        raise ValueError("path name cannot be empty")
    if name.startswith("/") or name.endswith("/"):
        raise ValueError(f"path name {name!r} can't begin or end with a slash")
    if "//" in name:
        raise ValueError(f"path name {name!r} can't contain an empty segment")
    if not _PATH_NAME.fullmatch(name):
        raise ValueError(
            f"path name {name!r} can contain only alphanumeric characters, "
            "underscore, dot, minus or slash"
        )
    if name in RESERVED_PATH_NAMES or any(part in (".", "..") for part in name.split("/")):
        raise ValueError(f"path name {name!r} is reserved")
    return name
