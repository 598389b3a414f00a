"""A stateful stand-in for MediaMTX's v3 Control API (v1.20.1), for tests and the offline demo.

Path configurations live in memory as MediaMTX keeps them: only the fields set through the API
are stored, and reads resolve them against the path defaults the way MediaMTX marshals them
(durations as Go prints them, e.g. "1h0m0s"; passwords as "<redacted>"). Status codes and error
texts follow MediaMTX's internal/api and internal/conf. Hooks for tests: a request log, a write
counter, injected failures, a delay, Basic auth, seeding, and restart() which forgets every
path, as a MediaMTX restart forgets paths made through the API.

Network cameras are a registry (`cameras`: address -> the credentials each demands): a path
that pulls one (its `source`, or the `-i` URL of the ffmpeg its runOnInit runs) is ready
only while the registry has that address and the URL carries the right credentials, as
MediaMTX's runtime state says whether its source is connected.

Publishers: a path whose source is ready (runOnInit, a pulled URL it reaches, runOnDemand
while it has readers) receives `inboundBytes` growing at `byte_rate`, as with a working
ffmpeg. stall() makes one hang the way a stuck ffmpeg does (online with bytes frozen, or not
online at all) until the path is recreated (deleted, then added), as camctl's watchdog does.

Recordings are real files: /v3/recordings/get lists what the path's own recordPath and
recordFormat point at, and record() writes a real segment there, as MediaMTX would. The same app
serves the playback server's GET /get, simplified: it answers the whole segment file that holds
`start` as it is on disk, where MediaMTX remuxes the asked span across segments (to fmp4 or mp4).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import copy
import json
import logging
import re
import shlex
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import click
from aiohttp import web

from controller.api.recorded import RecordFormat
from controller.kit.redact import REDACTED
from controller.testing.recordings import find_segments, record_file, write_segment

log = logging.getLogger(__name__)
VERSION = "v1.20.1"
BYTE_RATE = 250_000  # bytes a second a publishing path receives by default: 2 Mbit/s
# The only path fields MediaMTX redacts on read (internal/conf/redact.go, PR #6110).
REDACTED_FIELDS = frozenset({"publishPass", "readPass"})

# Every PathConf field with its default, as in pathDefaults of MediaMTX's mediamtx.yml.
# fmt: off
PATH_DEFAULTS: dict[str, Any] = {
    # General
    "source": "publisher", "sourceFingerprint": "", "sourceOnDemand": False,
    "sourceOnDemandStartTimeout": "10s", "sourceOnDemandCloseAfter": "10s", "maxReaders": 0,
    "srtReadPassphrase": "", "useAbsoluteTimestamp": False,
    # Always available, forward
    "alwaysAvailable": False, "alwaysAvailableTracks": [], "alwaysAvailableFile": "",
    "forward": [],
    # Record
    "record": False, "recordPath": "./recordings/%path/%Y-%m-%d_%H-%M-%S-%f",
    "recordFormat": "fmp4", "recordPartDuration": "1s", "recordMaxPartSize": "50M",
    "recordSegmentDuration": "1h", "recordDeleteAfter": "1d",
    # Publisher, RTSP, RTP, MoQ, WHEP and redirect sources
    "overridePublisher": True, "srtPublishPassphrase": "", "rtspDemuxMpegts": False,
    "rtspTransport": "automatic", "rtspAnyPort": False, "rtspRangeType": "", "rtspRangeStart": "",
    "rtspScale": "", "rtspUDPSourcePortRange": [32768, 60999], "rtpSDP": "", "moqTransport": "quic",
    "whepBearerToken": "", "whepSTUNGatherTimeout": "5s", "whepHandshakeTimeout": "10s",
    "whepTrackGatherTimeout": "2s", "sourceRedirect": "",
    # Raspberry Pi Camera source
    "rpiCameraCamID": 0, "rpiCameraSecondary": False, "rpiCameraWidth": 1920,
    "rpiCameraHeight": 1080, "rpiCameraHFlip": False, "rpiCameraVFlip": False,
    "rpiCameraBrightness": 0.0, "rpiCameraContrast": 1.0, "rpiCameraSaturation": 1.0,
    "rpiCameraSharpness": 1.0, "rpiCameraExposure": "normal", "rpiCameraAWB": "auto",
    "rpiCameraAWBGains": [0.0, 0.0], "rpiCameraDenoise": "off", "rpiCameraShutter": 0,
    "rpiCameraMetering": "centre", "rpiCameraGain": 0.0, "rpiCameraEV": 0.0, "rpiCameraROI": "",
    "rpiCameraHDR": False, "rpiCameraTuningFile": "", "rpiCameraMode": "", "rpiCameraFPS": 30.0,
    "rpiCameraAfMode": "continuous", "rpiCameraAfRange": "normal", "rpiCameraAfSpeed": "normal",
    "rpiCameraLensPosition": 0.0, "rpiCameraAfWindow": "", "rpiCameraFlickerPeriod": 0,
    "rpiCameraTextOverlayEnable": False, "rpiCameraTextOverlay": "%Y-%m-%d %H:%M:%S - MediaMTX",
    "rpiCameraCodec": "auto", "rpiCameraIDRPeriod": 60, "rpiCameraBitrate": 5000000,
    "rpiCameraH264Profile": "auto", "rpiCameraH264Level": "4.1", "rpiCameraMJPEGQuality": 60,
    # Hooks
    "runOnInit": "", "runOnInitRestart": False, "runOnDemand": "", "runOnDemandRestart": False,
    "runOnDemandStartTimeout": "10s", "runOnDemandCloseAfter": "10s", "runOnUnDemand": "",
    "runOnAvailable": "", "runOnAvailableRestart": False, "runOnUnavailable": "",
    "runOnOnline": "", "runOnOnlineRestart": False, "runOnOffline": "", "runOnRead": "",
    "runOnReadRestart": False, "runOnUnread": "", "runOnRecordSegmentCreate": "",
    "runOnRecordSegmentComplete": "",
}
# Deprecated fields (name -> kind): accepted, returned only when set, otherwise inert here.
DEPRECATED_FIELDS: dict[str, str] = {
    "disablePublisherOverride": "bool", "fallback": "str", "mpegtsUDPReadBufferSize": "uint",
    "playback": "bool", "publishIPs": "strs", "publishPass": "str", "publishUser": "str",
    "readIPs": "strs", "readPass": "str", "readUser": "str", "rpiCameraHardwareH264Level": "str",
    "rpiCameraHardwareH264Profile": "str", "rpiCameraJPEGQuality": "uint", "rpiCameraLevel": "str",
    "rpiCameraProfile": "str", "rpiCameraSoftwareH264Level": "str",
    "rpiCameraSoftwareH264Profile": "str", "rtpUDPReadBufferSize": "uint",
    "rtspUDPReadBufferSize": "uint", "runOnNotReady": "str", "runOnReady": "str",
    "runOnReadyRestart": "bool", "sourceAnyPortEnable": "bool", "sourceProtocol": "enum",
}
# fmt: on
FIELDS = frozenset({"name", *PATH_DEFAULTS, *DEPRECATED_FIELDS})

# Every duration field's name ends in Duration, Timeout or After (and no other field's does).
_DURATIONS = frozenset(k for k in PATH_DEFAULTS if re.search("(Duration|Timeout|After)$", k))
_TRANSPORTS = ("udp", "multicast", "tcp", "automatic")
_ENUMS = {
    "recordFormat": ("fmp4", "mpegts"),
    "rtspTransport": _TRANSPORTS,
    "sourceProtocol": _TRANSPORTS,
    "rtspRangeType": ("", "clock", "npt", "smpte"),
}
_LISTS = {"alwaysAvailableTracks": "objs", "forward": "objs", "rtspUDPSourcePortRange": "uints"}
_OBJECT_KEYS = {
    "forward": {"dest", "destFingerprint", "whipBearerToken"},
    "alwaysAvailableTracks": {"codec", "sampleRate", "channelCount", "muLaw"},
}
_GO_TYPES = {"str": "string", "int": "int", "uint": "uint", "float": "float64", "bool": "bool",
             "dur": "conf.Duration", "size": "conf.StringSize", "enum": "string", "uints": "[]uint",
             "objs": "[]struct", "strs": "[]string", "floats": "[]float64"}  # fmt: skip
_SOURCE_TYPES = {"rtsp": "rtspSource", "rtmp": "rtmpSource", "http": "hlsSource",
                 "srt": "srtSource", "moqt": "moqSource", "whep": "webRTCSource",
                 "udp+rtp": "rtpSource", "udp": "mpegtsSource",
                 "unix+mpegts": "mpegtsSource"}  # fmt: skip
_SOURCE_PREFIXES = tuple(_SOURCE_TYPES)  # URL schemes MediaMTX pulls from (rtsps, wheps, ...)
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443}
_PATH_NAME = re.compile(r"^[0-9a-zA-Z_\-/.~:]+$")
_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
       "h": 3600 * 10**9}  # fmt: skip
_DAY = 86400 * 10**9
_REALM = 'Basic realm="mediamtx"'
_SIZES = {"B": 1, **{u: 1 << (10 * (i + 1)) for i, u in enumerate("KMGTPE")}}
_SIZE_SUFFIXES = {"B": "B", **{u + s: u for u in "KMGTPE" for s in ("", "B", "IB")}}
_MEDIA_TYPES = {"fmp4": "video/mp4", "mpegts": "video/MP2T"}
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SECONDS = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class _APIError(Exception):
    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.headers = status, error, headers


def _kind(field: str) -> str:
    if field in _DURATIONS:
        return "dur"
    if field == "recordMaxPartSize":
        return "size"
    if field in _ENUMS:
        return "enum"
    if field in DEPRECATED_FIELDS or field in _LISTS:
        return DEPRECATED_FIELDS.get(field) or _LISTS[field]
    default = PATH_DEFAULTS[field]
    if isinstance(default, list):
        return "floats"
    if isinstance(default, bool | float | str):
        return {bool: "bool", float: "float", str: "str"}[type(default)]
    return "int" if field == "maxReaders" else "uint"


def _is_int(v: Any, low: int | None = None) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and (low is None or v >= low)


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "uint": lambda v: _is_int(v, 0),
    "float": lambda v: _is_int(v) or isinstance(v, float),
    "strs": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "uints": lambda v: isinstance(v, list) and all(_is_int(x, 0) for x in v),
    "floats": lambda v: isinstance(v, list) and all(_is_int(x) or isinstance(x, float) for x in v),
    "objs": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
}


def _parse_duration(text: str) -> int:
    """Nanoseconds of a MediaMTX duration: Go's time.ParseDuration plus a leading "<n>d"."""
    days_match = re.match(r"(-?\d+)d", text)
    days = int(days_match[1]) if days_match else 0
    rest = text[days_match.end() :] if days_match else text
    ns = 0
    if rest:
        sign, body = (-1, rest[1:]) if rest[:1] == "-" else (1, rest.removeprefix("+"))
        parts = re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)", body)
        if not body or (body != "0" and "".join(n + u for n, u in parts) != body):
            raise ValueError(f'time: invalid duration "{text}"')
        ns = sign * sum(int(Fraction(n) * _NS[u]) for n, u in parts)
    total = abs(days) * _DAY + ns
    return -total if days < 0 else total


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    return f"{whole}.{str(frac).zfill(len(str(unit)) - 1).rstrip('0')}" if frac else str(whole)


def _format_duration(ns: int) -> str:
    """A duration as MediaMTX marshals it: whole days as "<n>d", the rest as Go prints it."""
    days, rest = divmod(abs(ns), _DAY)
    out = ("-" if ns < 0 else "") + (f"{days}d" if days else "")
    if rest and rest < 10**9:
        unit = "ns" if rest < 10**3 else "µs" if rest < 10**6 else "ms"
        return out + _fraction(rest, _NS[unit]) + unit
    if rest:
        hours, rest = divmod(rest, _NS["h"])
        minutes, rest = divmod(rest, _NS["m"])
        out += (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
        out += _fraction(rest, _NS["s"]) + "s"
    return out


def _parse_size(text: str) -> int:
    """Bytes of a MediaMTX size ("50M", "1.5GiB"), as code.cloudfoundry.org/bytefmt reads it."""
    match = re.fullmatch(r"(\d+\.?\d*|\.\d+)([A-Z]+)", text.strip().upper())
    unit = _SIZE_SUFFIXES.get(match[2]) if match else None
    if match is None or unit is None:
        raise ValueError(
            "byte quantity must be a positive integer with a unit of measurement like "
            "M, MB, MiB, G, GiB, or GB"
        )
    return int(Fraction(match[1]) * _SIZES[unit])


def _format_size(size: int) -> str:
    unit = next((u for u in "EPTGMK" if size >= _SIZES[u]), "B")
    return f"{size / _SIZES[unit]:.1f}".removesuffix(".0") + unit if size else "0B"


def _json_type(value: Any) -> str:
    names = {bool: "bool", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "number")


def _decode_field(field: str, value: Any) -> None:
    """Reject what MediaMTX's strict JSON decoding of an OptionalPath rejects."""
    if field not in FIELDS:
        raise _APIError(400, f'json: unknown field "{field}"')
    kind = "str" if field == "name" else _kind(field)
    if not _CHECKS.get(kind, _CHECKS["str"])(value):
        raise _APIError(400, f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                        f".{field} of type {_GO_TYPES[kind]}")  # fmt: skip
    try:
        if kind == "dur":
            _parse_duration(value)
        elif kind == "size":
            _parse_size(value)
    except ValueError as exc:
        raise _APIError(400, str(exc)) from None
    if kind == "enum" and value not in _ENUMS[field]:
        raise _APIError(400, f"invalid {field}: '{value}'")
    for item in value if kind == "objs" else ():
        for key in item:
            if key not in _OBJECT_KEYS[field]:
                raise _APIError(400, f'json: unknown field "{key}"')


def _parse_conf(raw: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _APIError(400, "unexpected end of JSON input" if not raw else exc.msg) from None
    if not isinstance(body, dict):
        raise _APIError(400, f"json: cannot unmarshal {_json_type(body)} into Go value")
    for field, value in body.items():
        if value is not None:
            _decode_field(field, value)
    # JSON null leaves a field unset; "name" is always taken from the URL.
    return {k: v for k, v in body.items() if v is not None and k != "name"}


def _name_error(name: str) -> str | None:
    if not name:
        return "cannot be empty"
    if name[0] == "/" or name[-1] == "/":
        return f"can't {'begin' if name[0] == '/' else 'end'} with a slash"
    if not _PATH_NAME.match(name):
        return (
            "can contain only alphanumeric characters, underscore, dot, tilde, minus, slash, colon"
        )
    return None


def _name_regexp(name: str) -> re.Pattern[str] | None:
    """The regular expression of "all", "all_others" and "~..." paths; None for plain names."""
    if name in ("all", "all_others"):
        return re.compile("^.*$")
    if not name.startswith("~"):
        if err := _name_error(name):
            raise _APIError(400, f"invalid path name '{name}': {err}")
        return None
    try:
        return re.compile(name[1:])
    except re.error:
        raise _APIError(400, f"invalid regular expression: {name[1:]}") from None


def _pulled_by(command: str) -> str | None:
    """The network URL an ffmpeg command reads (`-i URL`), if it reads one."""
    try:
        args = shlex.split(command)
    except ValueError:
        return None
    inputs = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-i"]
    return next((url for url in inputs if url.startswith(_SOURCE_PREFIXES)), None)


def _check_source(conf: dict[str, Any]) -> None:
    source = conf["source"]
    if source == "redirect" and not conf["sourceRedirect"]:
        raise _APIError(400, "source redirect must be filled")
    if source not in ("publisher", "redirect", "rpiCamera") and (
        "://" not in source or not source.startswith(_SOURCE_PREFIXES)
    ):
        raise _APIError(400, f"invalid source: '{source}'")
    for field in ("srtPublishPassphrase", "srtReadPassphrase"):
        if conf[field] and not 10 <= len(conf[field]) <= 79:
            label = "srtPublishPassphrase" if field[3] == "P" else "readRTPassphrase"
            raise _APIError(400, f"invalid '{label}': must be between 10 and 79 characters")


def _check_record(conf: dict[str, Any]) -> None:
    path = conf["recordPath"]
    if "%path" not in path:
        raise _APIError(400, "'recordPath' must contain %path")
    if "%s" not in path and not all(f"%{c}" in path for c in "YmdHMS"):
        raise _APIError(400, "'recordPath' must contain either %s or %Y %m %d %H %M %S")
    segment = _parse_duration(conf["recordSegmentDuration"])
    if segment > _DAY:
        raise _APIError(400, "maximum segment duration is 1 day")
    delete_after = _parse_duration(conf["recordDeleteAfter"])
    if delete_after != 0 and delete_after < segment:
        raise _APIError(400, "'recordDeleteAfter' cannot be lower than 'recordSegmentDuration'")


def _validate_path(name: str, fields: dict[str, Any]) -> None:
    """The checks of MediaMTX's Path.validate that matter to camctl, in MediaMTX's order."""
    conf = {**PATH_DEFAULTS, **fields}
    regexp = _name_regexp(name)
    static = conf["source"] not in ("publisher", "redirect")
    if static and regexp and not conf["sourceOnDemand"]:
        raise _APIError(400, "a path with a regular expression (or path 'all') and a static "
                        "source must have 'sourceOnDemand' set to true")  # fmt: skip
    if conf["srtPublishPassphrase"] and conf["source"] != "publisher":
        raise _APIError(400, "'srtPublishPassphase' can only be used when source is 'publisher'")
    if conf["sourceOnDemand"] and conf["source"] == "publisher":
        raise _APIError(400, "'sourceOnDemand' is useless when source is 'publisher'")
    if conf["source"] != "redirect" and conf["sourceRedirect"]:
        raise _APIError(400, "'sourceRedirect' is useless when source is not 'redirect'")
    _check_source(conf)
    _check_record(conf)
    if conf["runOnInit"] and regexp:
        raise _APIError(400, "a path with a regular expression (or path 'all') does not support "
                        "option 'runOnInit'; use another path")  # fmt: skip
    if (conf["runOnDemand"] or conf["runOnUnDemand"]) and conf["source"] != "publisher":
        raise _APIError(400, "'runOnDemand' and 'runOnUnDemand' can be used only when source "
                        "is 'publisher'")  # fmt: skip


def _render(field: str, value: Any) -> Any:
    kind = _kind(field)
    if kind == "dur":
        return _format_duration(_parse_duration(value))
    if kind == "size":
        return _format_size(_parse_size(value))
    if field in REDACTED_FIELDS and value:
        return REDACTED
    return copy.deepcopy(value)


def _parse_uint31(text: str) -> int:
    if not text.isdigit():
        raise _APIError(400, f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) >= 1 << 31:
        raise _APIError(400, f'strconv.ParseUint: parsing "{text}": value out of range')
    return int(text)


def _paginate(
    request: web.Request, names: list[str], render: Callable[[str], Any]
) -> dict[str, Any]:
    """One page of `names`, rendered; only that page is rendered, as MediaMTX slices first."""
    per_page = _parse_uint31(request.query.get("itemsPerPage") or "100")
    page = _parse_uint31(request.query.get("page") or "0")
    if per_page == 0:
        raise _APIError(400, "invalid items per page")
    return {
        "itemCount": len(names),
        "pageCount": -(-len(names) // per_page),
        "items": [render(n) for n in names[page * per_page : (page + 1) * per_page]],
    }


def _param_name(request: web.Request) -> str:
    if not (name := request.match_info["name"]):
        raise _APIError(400, "invalid name")
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _rfc3339(when: datetime) -> str:
    """A time as Go marshals it (RFC 3339, fraction without trailing zeros), in UTC."""
    text = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{when.microsecond:06d}".rstrip("0") if when.microsecond else "") + "Z"


def _parse_start(text: str) -> datetime:
    """The playback server's `start`, RFC 3339 as Go's time.Parse reads it."""
    try:
        if _RFC3339.fullmatch(text):
            return datetime.fromisoformat(text)  # beyond microseconds, digits are dropped
    except ValueError:  # shaped right, yet no date (month 13)
        pass
    raise _APIError(400, f"invalid start: parsing time {json.dumps(text)} as RFC 3339")


def _check_duration(text: str) -> None:
    """The playback server's `duration`: seconds, or a Go duration (deprecated there)."""
    if _SECONDS.fullmatch(text):
        return
    try:
        _parse_duration(text or "?")  # Go refuses an empty duration, _parse_duration does not
    except ValueError:
        raise _APIError(400, f'invalid duration: time: invalid duration "{text}"') from None


def _containing(found: list[tuple[datetime, Path]], at: datetime) -> Path | None:
    """The segment that holds `at`: the last to start at or before it, if `at` is before the
    next one's start (for the newest: not after its last write)."""
    index = bisect.bisect_right([start for start, _ in found], at) - 1
    if index < 0:
        return None
    if index + 1 < len(found):
        return found[index][1] if at < found[index + 1][0] else None
    end = datetime.fromtimestamp(found[index][1].stat().st_mtime, UTC)
    return found[index][1] if at <= end else None


class MediaMTXEmulator:
    """MediaMTX's Control API in memory. Not thread-safe: drive it from its own event loop."""

    def __init__(
        self,
        users: Sequence[tuple[str, str]] | None = None,
        *,
        auth_delay: float = 0.0,
        record_every: float | None = None,
        cameras: dict[str, tuple[str, str] | None] | None = None,
        byte_rate: int = BYTE_RATE,
    ) -> None:
        self.users = list(users) if users is not None else None
        # Network cameras it reaches, by "host:port": the (user, password) each demands, or
        # None for an open one (for SRT the password is the passphrase).
        self.cameras: dict[str, tuple[str, str] | None] = dict(cameras or {})
        self._ready_since: dict[str, str] = {}
        self.byte_rate = byte_rate  # bytes a second a publishing path receives
        # As if every recording path had a publisher: a segment this often (the demo's).
        self.record_every = record_every
        self._recorder: asyncio.Task[None] | None = None
        self.auth_delay = auth_delay  # MediaMTX waits up to 4 s before a 401 for bad credentials
        self.delay = 0.0
        self.requests: list[tuple[str, str, Any]] = []
        self.version = VERSION  # what /v3/info says
        self.runtime: dict[str, dict[str, Any]] = {}  # per-path overrides of /v3/paths fields
        # A body for every /v3/recordings/get, as a MediaMTX that misbehaves might answer.
        self.recordings_answer: Any = None
        self._paths: dict[str, dict[str, Any]] = {}
        self._since: dict[str, str] = {}
        self._failures: list[tuple[int, str, str | None]] = []
        self._born: dict[str, float] = {}  # time.monotonic() when each path was created
        self._stalls: dict[str, tuple[bool, int]] = {}  # path -> (online, bytes frozen at)
        self._writes = 0
        self._started = _now()
        self._runner: web.AppRunner | None = None
        self.url: str | None = None  # set while serving

    # --- test hooks ---------------------------------------------------------------------------
    @property
    def write_count(self) -> int:
        """Successful add, patch, replace and delete calls."""
        return self._writes

    def restart(self) -> None:
        """Forget every path and runtime state, as a MediaMTX restart does with API-made paths,
        and drop every connection, as its exit does."""
        if self._runner is not None and self._runner.server is not None:
            for connection in list(self._runner.server.connections):
                connection.force_close()
        self._paths.clear()
        self._since.clear()
        self._ready_since.clear()
        self._born.clear()
        self._stalls.clear()
        self.runtime.clear()
        self._started = _now()

    def stall(self, name: str, *, online: bool = True) -> None:
        """Hang the publisher of path `name` as a stuck ffmpeg does: no more bytes, and
        (online=False) no publisher either, until the path is recreated."""
        if name not in self._paths:
            raise KeyError(name)
        self._stalls[name] = (online, self._inbound_bytes(name))

    def stalled(self, name: str) -> bool:
        return name in self._stalls

    def fail_next(
        self,
        status: int = 500,
        times: int = 1,
        error: str = "injected failure",
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests (of `method`, if given) with `status` and
        MediaMTX's error body `error`."""
        self._failures.extend([(status, error, method)] * times)

    def stop_failing(self) -> None:
        """Forget the failures `fail_next` asked for and has not answered yet."""
        self._failures.clear()

    def set_path(self, name: str, conf: dict[str, Any]) -> None:
        """Seed a path as if configured outside camctl (not logged, not counted)."""
        try:
            fields = _parse_conf(json.dumps(conf))
            _validate_path(name, fields)
        except _APIError as exc:
            raise ValueError(exc.error) from None
        self._store(name, fields)

    def stored(self, name: str) -> dict[str, Any]:
        """The fields set on a path, unresolved and unredacted."""
        return copy.deepcopy(self._paths[name])

    def path_names(self) -> list[str]:
        return sorted(self._paths)

    def resolved(self, name: str) -> dict[str, Any]:
        """A path configuration as MediaMTX returns it on read."""
        conf = {**PATH_DEFAULTS, **self._paths[name]}
        return {"name": name} | {k: _render(k, v) for k, v in conf.items()}

    def record(self, name: str, start: datetime, duration: float = 1.0) -> Path:
        """MediaMTX writing a segment: a real one of `duration` seconds from `start` (aware), at
        the place the recordPath and recordFormat of path `name` say. ValueError if it does not
        record."""
        return write_segment(*self._segment_of(name, start), start, duration)

    def _segment_of(self, name: str, start: datetime) -> tuple[Path, RecordFormat]:
        try:
            conf = self._path_conf(name)
        except _APIError as exc:
            raise ValueError(exc.error) from None
        if not conf["record"]:
            raise ValueError(f"path '{name}' does not record (record: false)")
        format: RecordFormat = conf["recordFormat"]  # one of them: _validate_path checked
        return record_file(conf["recordPath"], name, format, start), format

    # --- serving ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]]] = [
            ("GET", "/v3/info", self._info),
            ("GET", "/v3/config/paths/list", self._config_list),
            ("GET", "/v3/config/paths/get/{name:.*}", self._config_get),
            ("POST", "/v3/config/paths/add/{name:.*}", self._config_add),
            ("PATCH", "/v3/config/paths/patch/{name:.*}", self._config_patch),
            ("POST", "/v3/config/paths/replace/{name:.*}", self._config_replace),
            ("DELETE", "/v3/config/paths/delete/{name:.*}", self._config_delete),
            ("GET", "/v3/paths/list", self._paths_list),
            ("GET", "/v3/paths/get/{name:.*}", self._paths_get),
            ("GET", "/v3/recordings/get/{name:.*}", self._recordings_get),
            ("GET", "/get", self._playback_get),  # the playback server's, on the same port
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns the base URL."""
        # A short shutdown: stop() should not wait out requests slowed down by `delay`.
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
        if self.record_every:
            self._recorder = asyncio.create_task(self._record_continuously(self.record_every))
        return self.url

    async def _record_continuously(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            start = datetime.now(UTC) - timedelta(seconds=every)
            recording = [n for n in self.path_names() if self._path_conf(n)["record"]]
            try:
                for name in recording:  # the files on a thread: ffmpeg makes the first clip
                    await asyncio.to_thread(
                        write_segment, *self._segment_of(name, start), start, every
                    )
            except (OSError, RuntimeError) as exc:
                log.warning("recording stopped: %s", exc)
                return

    async def stop(self) -> None:
        if self._recorder is not None:
            self._recorder.cancel()
            self._recorder = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = self.url = None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw
        self.requests.append((request.method, request.raw_path, body))
        await asyncio.sleep(self.delay)
        try:
            if self._failures and self._failures[0][2] in (None, request.method):
                status, error, _ = self._failures.pop(0)
                raise _APIError(status, error)
            await self._authenticate(request)
            return await handler(request)
        except _APIError as exc:
            data = {"status": "error", "error": exc.error}
            return web.json_response(data, status=exc.status, headers=exc.headers)

    async def _authenticate(self, request: web.Request) -> None:
        if self.users is None:
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":  # MediaMTX asks for credentials at once
            raise _APIError(401, "authentication error", {"WWW-Authenticate": _REALM})
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if (user, password) not in self.users:
            await asyncio.sleep(self.auth_delay)
            raise _APIError(401, "authentication error")

    # --- configuration ------------------------------------------------------------------------
    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({"version": self.version, "started": self._started})

    async def _config_list(self, request: web.Request) -> web.Response:
        return web.json_response(_paginate(request, self.path_names(), self.resolved))

    async def _config_get(self, request: web.Request) -> web.Response:
        name = _param_name(request)
        if name not in self._paths:
            raise _APIError(404, "path configuration not found")
        return web.json_response(self.resolved(name))

    async def _config_add(self, request: web.Request) -> web.Response:
        name, fields = _param_name(request), _parse_conf(await request.text())
        if name in self._paths:
            raise _APIError(400, "path already exists")
        return self._commit(name, fields)

    async def _config_patch(self, request: web.Request) -> web.Response:
        name, fields = _param_name(request), _parse_conf(await request.text())
        if name not in self._paths:
            raise _APIError(404, "path not found")
        return self._commit(name, {**self._paths[name], **fields})

    async def _config_replace(self, request: web.Request) -> web.Response:
        name, fields = _param_name(request), _parse_conf(await request.text())
        return self._commit(name, fields)

    async def _config_delete(self, request: web.Request) -> web.Response:
        name = _param_name(request)
        if self._paths.pop(name, None) is None:
            raise _APIError(404, "path not found")
        self._since.pop(name, None)
        self._born.pop(name, None)
        self._stalls.pop(name, None)  # a new path gets a new publisher
        self._writes += 1
        return web.json_response({"status": "ok"})

    def _commit(self, name: str, fields: dict[str, Any]) -> web.Response:
        _validate_path(name, fields)
        self._store(name, fields)
        self._writes += 1
        return web.json_response({"status": "ok"})

    def _store(self, name: str, fields: dict[str, Any]) -> None:
        if fields != self._paths.get(name):
            self._ready_since.pop(name, None)  # a changed path reconnects its source
        self._paths[name] = copy.deepcopy(fields)
        self._since.setdefault(name, _now())
        self._born.setdefault(name, time.monotonic())

    # --- runtime ------------------------------------------------------------------------------
    def _runtime_item(self, name: str) -> dict[str, Any]:
        conf = {**PATH_DEFAULTS, **self._paths[name]}
        source, ready = self._runtime_source(name, conf)
        if not self._stalls.get(name, (True, 0))[0]:  # hung before publishing: no source
            source, ready = None, False
        online = self._since[name] if source else None
        if ready:
            self._ready_since.setdefault(name, _now())
        else:
            self._ready_since.pop(name, None)
        since = self._ready_since.get(name)
        item: dict[str, Any] = {"name": name, "confName": name, "source": source}
        item |= {"ready": ready, "readyTime": since, "available": ready, "availableTime": since}
        item |= {"online": source is not None, "onlineTime": online}
        received = self._inbound_bytes(name) if ready or name in self._stalls else 0
        item |= {"tracks": [], "tracks2": [], "inboundBytes": received,
                 "inboundFramesInError": 0, "outboundBytes": 0, "bytesReceived": received,
                 "bytesSent": 0, "readers": []}  # fmt: skip
        return item | copy.deepcopy(self.runtime.get(name, {}))

    def _inbound_bytes(self, name: str) -> int:
        """What the path's publisher has sent: growing at byte_rate, or frozen by stall()."""
        if name in self._stalls:
            return self._stalls[name][1]
        return int((time.monotonic() - self._born[name]) * self.byte_rate)

    def _runtime_source(
        self, name: str, conf: dict[str, Any]
    ) -> tuple[dict[str, str] | None, bool]:
        """The source and whether it is ready: runOnInit publishes at once, runOnDemand while
        the path has readers (once its ffmpeg reaches the camera it pulls, if any); a static
        source not on demand is pulled at once, and ready once it is reached."""
        readers = self.runtime.get(name, {}).get("readers")
        command = conf["runOnInit"] or (conf["runOnDemand"] if readers else "")
        if command:
            pulled = _pulled_by(command)
            if pulled is not None and not self.reaches(pulled):
                return None, False
            return {"type": "rtspSession", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name))}, True
        source = conf["source"]
        if source in ("publisher", "redirect") or conf["sourceOnDemand"]:
            return None, False
        if source == "rpiCamera":
            return {"type": "rpiCameraSource", "id": ""}, True
        prefix = max((p for p in _SOURCE_TYPES if source.startswith(p)), key=len)
        return {"type": _SOURCE_TYPES[prefix], "id": ""}, self.reaches(source)

    def reaches(self, url: str) -> bool:
        """Whether a network camera of the registry answers `url` (credentials included)."""
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return False
        address = f"{parts.hostname}:{port}"
        if address not in self.cameras:
            return False
        wanted = self.cameras[address]
        if wanted is None:
            return True
        if parts.scheme == "srt":
            return dict(parse_qsl(parts.query)).get("passphrase") == wanted[1]
        given = (unquote(parts.username or ""), unquote(parts.password or ""))
        return parts.username is not None and given == wanted

    def _runtime_names(self) -> list[str]:
        return [n for n in self.path_names() if _name_regexp(n) is None]

    async def _paths_list(self, request: web.Request) -> web.Response:
        return web.json_response(_paginate(request, self._runtime_names(), self._runtime_item))

    async def _paths_get(self, request: web.Request) -> web.Response:
        name = _param_name(request)
        if name not in self._runtime_names():
            raise _APIError(404, "path not found")
        return web.json_response(self._runtime_item(name))

    # --- recordings ---------------------------------------------------------------------------
    def _path_conf(self, name: str) -> dict[str, Any]:
        """The configuration MediaMTX applies to `name`: its own, else that of the first matching
        regular expression path, "all" and "all_others" last (MediaMTX's FindPathConf)."""
        if name in self._paths:
            return {**PATH_DEFAULTS, **self._paths[name]}
        if err := _name_error(name):
            raise _APIError(400, f"invalid path name: {err} ({name})")
        for conf_name in sorted(self.path_names(), key=lambda n: n in ("all", "all_others")):
            regexp = _name_regexp(conf_name)
            if regexp and regexp.search(name):
                return {**PATH_DEFAULTS, **self._paths[conf_name]}
        raise _APIError(400, f"path '{name}' is not configured")

    async def _segments(self, name: str) -> tuple[dict[str, Any], list[tuple[datetime, Path]]]:
        conf = self._path_conf(name)
        found = await asyncio.to_thread(
            find_segments, conf["recordPath"], name, conf["recordFormat"]
        )
        return conf, found

    async def _recordings_get(self, request: web.Request) -> web.Response:
        name = _param_name(request)
        if self.recordings_answer is not None:
            return web.json_response(self.recordings_answer)
        _, found = await self._segments(name)
        segments = [{"start": _rfc3339(start)} for start, _ in found]
        return web.json_response({"name": name, "segments": segments})

    async def _playback_get(self, request: web.Request) -> web.Response:
        """GET /get?path=&start=&duration=[&format=]: the segment file that holds `start`."""
        start = _parse_start(request.query.get("start", ""))
        _check_duration(request.query.get("duration", ""))
        if (format := request.query.get("format", "")) not in ("", "fmp4", "mp4"):
            raise _APIError(400, f"invalid format: {format}")
        conf, found = await self._segments(request.query.get("path", ""))
        file = await asyncio.to_thread(_containing, found, start)
        if file is None:
            raise _APIError(404, "no recording segments found")
        body = await asyncio.to_thread(file.read_bytes)
        headers = {"Accept-Ranges": "none"}
        media_type = _MEDIA_TYPES[conf["recordFormat"]]
        return web.Response(body=body, content_type=media_type, headers=headers)


@contextlib.contextmanager
def run_in_thread(
    emulator: MediaMTXEmulator, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve the emulator from a daemon thread with its own event loop; yields the base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mediamtx-emulator", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(emulator.start(host, port), loop).result(10)
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(emulator.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _serve(emulator: MediaMTXEmulator, host: str, port: int) -> None:
    url = await emulator.start(host, port)
    click.echo(f"MediaMTX {VERSION} Control API emulator listening on {url}")
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9997, show_default=True, type=int)
@click.option("--user", "users", multiple=True, metavar="USER:PASS", help="Require Basic auth.")
def main(host: str, port: int, users: tuple[str, ...]) -> None:
    """Run the MediaMTX Control API emulator until interrupted."""
    pairs = [tuple(u.split(":", 1)) for u in users]
    if any(len(p) != 2 for p in pairs):
        raise click.BadParameter("expected USER:PASS", param_hint="--user")
    emulator = MediaMTXEmulator([(p[0], p[1]) for p in pairs] or None)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(emulator, host, port))


if __name__ == "__main__":
    main()
