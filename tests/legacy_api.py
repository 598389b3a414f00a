"""Facts about the old camera service's API that camctl's legacy endpoint must keep, and a
checker of answers against them (field names AND types).

Sources: the viewer API document of the old "MediaMTX Camera Service" (calls, params,
result fields, notifications, error codes, health paths), and, for what it names without
shapes (`get_camera_capabilities`, the admin calls, health `details`), that service's
published JSON-RPC and health references. Written down here so that the tests need no file
outside the repository.

A spec is: a type (`str`, `int`, `bool`; `int` never accepts a bool), `NUMBER` (int or
float), `RFC3339`, `RESOLUTION`, `Enum(...)`, `Opt(spec)` (null allowed), `[spec]` (a list
of), or a dict of specs (exactly those keys; `Absent(spec)` marks a key that may be left
out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# --- the spec language ---------------------------------------------------------------------


@dataclass(frozen=True)
class Opt:
    spec: Any


@dataclass(frozen=True)
class Absent:
    spec: Any


class Enum:
    def __init__(self, *values: object) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"one of {self.values}"


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]


NUMBER = "number"
RFC3339 = Pattern(
    "RFC 3339", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
)
RESOLUTION = Pattern("WIDTHxHEIGHT", re.compile(r"\d+x\d+"))


def problems(value: Any, spec: Any, where: str = "result") -> list[str]:
    """What in `value` does not fit `spec`; empty when it fits."""
    if isinstance(spec, Opt):
        return [] if value is None else problems(value, spec.spec, where)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        found = [f"{where}.{k}: unexpected" for k in value if k not in spec]
        for key, inner in spec.items():
            if isinstance(inner, Absent):
                if key in value:
                    found += problems(value[key], inner.spec, f"{where}.{key}")
            elif key not in value:
                found.append(f"{where}.{key}: missing")
            else:
                found += problems(value[key], inner, f"{where}.{key}")
        return found
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        return [p for i, item in enumerate(value) for p in problems(item, spec[0], f"{where}[{i}]")]
    return _scalar(value, spec, where)


def _scalar(value: Any, spec: Any, where: str) -> list[str]:
    if isinstance(spec, Enum):
        ok = value in spec.values
    elif isinstance(spec, Pattern):
        ok = isinstance(value, str) and spec.regex.fullmatch(value) is not None
    elif spec == NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif spec is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, spec)
    name = getattr(spec, "__name__", None) or getattr(spec, "name", None) or repr(spec)
    return [] if ok else [f"{where}: {value!r} is not {name}"]


# --- the old API -----------------------------------------------------------------------------

URLS = {"rtsp": Opt(str), "webrtc": Opt(str), "hls": Opt(str)}
CAMERA_UPDATE = {
    "device": str,
    "status": Enum("CONNECTED", "DISCONNECTED"),
    "name": str,
    "resolution": RESOLUTION,
    "fps": int,
    "streams": URLS,
}
CAMERA = CAMERA_UPDATE | {
    "recording": bool,
    "recording_session": Opt(str),
    "current_file": Opt(str),
    "elapsed_time": Opt(int),
}
CAMERA_LIST = {"cameras": [CAMERA], "total": int, "connected": int}
CAMERA_STATUS = CAMERA | {
    "metrics": {"bytes_sent": int, "readers": int, "uptime": int},
    "capabilities": {"formats": [str], "resolutions": [RESOLUTION]},
}
CAPABILITIES = {
    "device": str,
    "formats": [str],
    "resolutions": [RESOLUTION],
    "fps_options": [int],
    "validation_status": Enum("none", "disconnected", "confirmed"),
}
STREAMS = [{"name": str, "source": str, "ready": bool, "readers": int, "bytes_sent": int}]
FILE = {
    "filename": str,
    "file_size": int,
    "modified_time": RFC3339,
    "created_time": RFC3339,
    "duration": int,
    "download_url": str,
}
FILE_LIST = {"files": [FILE], "total": int, "limit": int, "offset": int}
AUTHENTICATED = {
    "authenticated": Enum(True),
    "role": Enum("viewer", "operator", "admin"),
    "permissions": [str],
    "expires_at": RFC3339,
    "session_id": str,
}
AUTH_REFUSED = {"authenticated": Enum(False), "error": str}
METRICS = {
    "active_connections": int,
    "total_requests": int,
    "average_response_time": Opt(NUMBER),
    "error_rate": NUMBER,
    "memory_usage": NUMBER,
    "cpu_usage": NUMBER,
}
STATUS = {
    "status": Enum("healthy", "degraded", "unhealthy"),
    "uptime": int,
    "version": str,
    "components": {"websocket_server": str, "camera_monitor": str, "mediamtx_controller": str},
}
SERVER_INFO = {
    "name": str,
    "version": str,
    "capabilities": [str],
    "supported_formats": [str],
    "max_cameras": Opt(int),
}
STORAGE = {
    "total_space": Opt(int),
    "used_space": Opt(int),
    "available_space": Opt(int),
    "usage_percentage": Opt(NUMBER),
    "recordings_size": int,
    "snapshots_size": int,
    "low_space_warning": bool,
}
RECORDING_UPDATE = {
    "device": str,
    "status": Enum("STARTED", "STOPPED"),
    "filename": str,
    "duration": int,
}

# Roles: any token for these; admin for ADMIN_ONLY; the rest changed state (camctl: -32003).
VIEWER_CALLS = {
    "ping", "get_camera_list", "get_camera_status", "get_camera_capabilities", "get_streams",
    "list_recordings", "get_recording_info", "list_snapshots", "get_snapshot_info",
}  # fmt: skip
ADMIN_ONLY = {"get_metrics", "get_status", "get_server_info", "get_storage_info"}
STATE_CHANGING = {
    "take_snapshot", "start_recording", "stop_recording", "delete_recording", "delete_snapshot",
    "set_retention_policy", "cleanup_old_files",
}  # fmt: skip

# Error codes it used.
AUTH_FAILED, RATE_LIMITED, INSUFFICIENT_PERMISSION = -32001, -32002, -32003
CAMERA_NOT_FOUND, FILE_NOT_FOUND = -1000, -1005
INVALID_PARAMS, METHOD_NOT_FOUND = -32602, -32601

# --- its health paths ------------------------------------------------------------------------

COMPONENT = {"status": Enum("healthy", "unhealthy"), "details": str}
HEALTH_SYSTEM = {
    "status": Enum("healthy", "degraded", "unhealthy"),
    "timestamp": RFC3339,
    "components": {"mediamtx": COMPONENT, "camera_monitor": COMPONENT,
                   "service_manager": COMPONENT},
    "error": Absent(str),  # with 500
}  # fmt: skip
HEALTH_PART = {  # /health/cameras, /health/mediamtx
    "status": Enum("healthy", "unhealthy"),
    "timestamp": RFC3339,
    "details": str,
    "error": Absent(str),  # with 500
}
READY = {"status": Enum("ready"), "timestamp": RFC3339}
NOT_READY = {
    "status": Enum("not_ready"),
    "timestamp": RFC3339,
    "details": {"mediamtx": Enum("healthy", "unhealthy"),
                "service_manager": Enum("healthy", "unhealthy")},
}  # fmt: skip
