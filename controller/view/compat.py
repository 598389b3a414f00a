"""The old "MediaMTX Camera Service" viewer API, answered from camctl's snapshot.

Its existing dashboards and scripts keep working when pointed at camctl: the same method
names, parameter names, result shapes, error codes and notifications (see docs/view.md).
On /ws, its own endpoint, answers are the old service's where camctl's own differ: a failed
`authenticate` is a result saying so, and an unknown device a DISCONNECTED camera object
(old clients read only results). Its role rules hold: camctl's view tokens are viewers, and
the calls it kept for admins (compat_admin.py) are answered only without a token file (the
view on loopback). Calls that changed state there answer an error naming what to declare
instead, since camctl's state lives in documents, not in calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field

from controller.view import compat_admin, errors
from controller.view.auth import Role
from controller.view.compat_cameras import NOT_RECORDING
from controller.view.errors import RPCError
from controller.view.models import Out, Params
from controller.view.recorded import Found, rfc3339
from controller.view.rpc import Context, Method, is_legacy
from controller.view.snapshot import Doc

FORMAT_NAMES = {"MJPG": "MJPEG"}
INSUFFICIENT_PERMISSION = errors.READ_ONLY  # -32003, as the old service used it


# --- shapes --------------------------------------------------------------------------


class AuthenticateParams(Params):
    auth_token: str | None = Field(None, alias="auth_token", max_length=4096)
    token: str | None = Field(None, max_length=4096)
    auth_type: Literal["jwt", "api_key", "auto"] = Field("auto", alias="auth_type")


class DeviceParams(Params):
    device: str = Field(max_length=4096, description="/dev/video0, a by-id link or the name")


class FilesParams(Params):
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class FileParams(Params):
    filename: str = Field(max_length=4096)


class AnyParams(Params):
    model_config = ConfigDict(extra="allow", strict=False)


class Authenticated(Out):
    """Who the connection is; on /ws a refused token answers only `authenticated` false and
    `error`, as the old service did."""

    model_config = ConfigDict(alias_generator=None)
    authenticated: bool
    role: Role | None = None
    permissions: list[str] | None = None
    expires_at: str | None = Field(None, description="RFC 3339: when the session ends (/ws)")
    session_id: str | None = None
    error: str | None = None


class StreamUrlsOut(Out):
    rtsp: str | None = None
    webrtc: str | None = None
    hls: str | None = None


class CameraObject(Out):
    model_config = ConfigDict(alias_generator=None)
    device: str
    status: Literal["CONNECTED", "DISCONNECTED"]
    name: str
    resolution: str
    fps: int
    streams: StreamUrlsOut
    recording: bool
    recording_session: str | None = Field(description="While writing: Recording@since")
    current_file: str | None = Field(description="While writing: the newest segment")
    elapsed_time: int | None = Field(description="While writing: seconds since it began")


class CameraListResult(Out):
    cameras: list[CameraObject]
    total: int
    connected: int


class CameraMetrics(Out):
    model_config = ConfigDict(alias_generator=None)
    bytes_sent: int
    readers: int
    uptime: int


class Capabilities(Out):
    formats: list[str]
    resolutions: list[str]


class CameraStatusResult(CameraObject):
    metrics: CameraMetrics
    capabilities: Capabilities


class CameraCapabilities(Out):
    model_config = ConfigDict(alias_generator=None)
    device: str
    formats: list[str]
    resolutions: list[str]
    fps_options: list[int]
    validation_status: Literal["none", "disconnected", "confirmed"]


class StreamInfo(Out):
    model_config = ConfigDict(alias_generator=None)
    name: str
    source: str
    ready: bool
    readers: int
    bytes_sent: int


class FileObject(Out):
    model_config = ConfigDict(alias_generator=None)
    filename: str
    file_size: int
    modified_time: str
    created_time: str = Field(description="RFC 3339: the segment's start")
    duration: int = Field(description="Whole seconds (to the next segment, or so far)")
    download_url: str


class FileList(Out):
    files: list[FileObject]
    total: int
    limit: int
    offset: int


class Metrics(Out):
    model_config = ConfigDict(alias_generator=None)
    active_connections: int
    total_requests: int
    average_response_time: float | None
    error_rate: float
    memory_usage: float
    cpu_usage: float


class ComponentStates(Out):
    model_config = ConfigDict(alias_generator=None)
    websocket_server: str
    camera_monitor: str
    mediamtx_controller: str


class ServiceStatus(Out):
    status: Literal["healthy", "degraded", "unhealthy"]
    uptime: int
    version: str
    components: ComponentStates


class ServerInfo(Out):
    model_config = ConfigDict(alias_generator=None)
    name: str
    version: str
    capabilities: list[str]
    supported_formats: list[str]
    max_cameras: int | None


class StorageInfo(Out):
    model_config = ConfigDict(alias_generator=None)
    total_space: int | None
    used_space: int | None
    available_space: int | None
    usage_percentage: float | None
    recordings_size: int
    snapshots_size: int
    low_space_warning: bool


# --- session -------------------------------------------------------------------------


def role_of(ctx: Context) -> Role:
    """The role of the session's token (see auth.py: a viewer unless its line says admin);
    without a token file (loopback only) everyone is admin."""
    return "admin" if not ctx.auth.required else ctx.session.role


def _authenticate(ctx: Context, params: AuthenticateParams) -> Doc:
    token = params.auth_token if params.auth_token is not None else params.token
    if token is not None:
        given = ctx.auth.role_of(token)
    else:
        given = ctx.session.role if ctx.session.authenticated else None
    if not ctx.auth.required:
        given = "admin"
    if given is None:
        text = "Authentication failed: unknown token" if token else "Missing token"
        if is_legacy(ctx.session):  # its clients read results only
            return {"authenticated": False, "error": text}
        raise RPCError(errors.UNAUTHORIZED, text)
    session_id = ctx.session.authenticate_compat(given)
    expires = getattr(ctx.session, "expires_at", None)
    role = role_of(ctx)
    return {
        "authenticated": True,
        "role": role,
        "permissions": ["view", "admin"] if role == "admin" else ["view"],
        "expires_at": rfc3339(expires) if expires is not None else None,
        "session_id": session_id,
    }


def _ping(ctx: Context, params: Params) -> str:
    return "pong"


# --- cameras and streams ---------------------------------------------------------------


def _camera_list(ctx: Context, params: Params) -> Doc:
    cameras = list(ctx.state.compat.cameras.values())
    connected = sum(c["status"] == "CONNECTED" for c in cameras)
    return {"cameras": cameras, "total": len(cameras), "connected": connected}


def _camera_status(ctx: Context, params: DeviceParams) -> Doc:
    key = _key_of(ctx, params.device)
    if key is None:
        return _placeholder(params.device) | {
            "metrics": {"bytes_sent": 0, "readers": 0, "uptime": 0},
            "capabilities": {"formats": [], "resolutions": []},
        }
    seen = ctx.state.compat
    obj, stream = seen.cameras[key], seen.joined[key].stream
    live = _live(ctx, stream)
    since = live.get("readyTime") if live.get("ready") else None
    return obj | {
        "metrics": {
            "bytes_sent": int(live.get("outboundBytes") or live.get("bytesSent") or 0),
            "readers": len(live.get("readers") or []),
            "uptime": int(compat_admin.seconds_since(since)),
        },
        "capabilities": {"formats": _formats(ctx, key), "resolutions": [obj["resolution"]]},
    }


def _camera_capabilities(ctx: Context, params: DeviceParams) -> Doc:
    """The pixel formats udev told of, and the video camctl publishes (the Stream's)."""
    key = _key_of(ctx, params.device)
    if key is None:
        return {"device": params.device, "formats": [], "resolutions": [], "fps_options": [],
                "validation_status": "disconnected"}  # fmt: skip
    obj, formats = ctx.state.compat.cameras[key], _formats(ctx, key)
    connected = obj["status"] == "CONNECTED"
    return {
        "device": obj["device"],
        "formats": formats,
        "resolutions": [obj["resolution"]],
        "fps_options": [obj["fps"]],
        "validation_status": ("confirmed" if formats else "none") if connected else "disconnected",
    }


def _key_of(ctx: Context, device: str) -> str | None:
    """The camera a device path, link or Camera name names. Unknown: on /ws None (the old
    service answered a DISCONNECTED object), elsewhere camctl's -1000."""
    key = ctx.state.compat.names.get(device)
    if key is None and not is_legacy(ctx.session):
        raise RPCError(errors.CAMERA_NOT_FOUND, f"camera not found: {device[:200]}")
    return key


def _placeholder(device: str) -> Doc:
    """The old service's object for a device it did not know: its own defaults."""
    number = device.rsplit("video", 1)[1] if "video" in device else "unknown"
    return {
        "device": device,
        "status": "DISCONNECTED",
        "name": f"Camera {number}",
        "resolution": "1920x1080",
        "fps": 30,
        "streams": {"rtsp": None, "webrtc": None, "hls": None},
        "recording": False,
        **NOT_RECORDING,
    }


def _formats(ctx: Context, key: str) -> list[str]:
    device = ctx.state.compat.joined[key].camera.get("status", {}).get("device") or {}
    return [FORMAT_NAMES.get(f, f) for f in device.get("formats", [])]


def _live(ctx: Context, stream: Doc | None) -> Mapping[str, Any]:
    path = (stream or {}).get("status", {}).get("path")
    return ctx.snapshot.runtime.get(path, {}) if path else {}


def _streams(ctx: Context, params: Params) -> list[Doc]:
    out = []
    for stream in ctx.snapshot.docs["Stream"]:
        status = stream.get("status", {})
        path = status.get("path") or stream["spec"].get("path") or stream["metadata"]["name"]
        live = ctx.snapshot.runtime.get(path, {})
        out.append(
            {
                "name": path,
                "source": status.get("device") or "",
                "ready": bool(live.get("ready")),
                "readers": len(live.get("readers") or []),
                "bytes_sent": int(live.get("outboundBytes") or live.get("bytesSent") or 0),
            }
        )
    return out


# --- files ---------------------------------------------------------------------------


def file_object(ctx: Context, found: Found) -> Doc:
    """A segment as the old service described a file, with its start and whole seconds."""
    segment = found[1]
    return ctx.snapshot.recorded.file_object(found) | {
        "created_time": rfc3339(segment.start),
        "duration": round(segment.duration),
    }


def _recordings(ctx: Context, params: FilesParams) -> Doc:
    """Every Recording's segments on this node, newest first, as the last pass found them."""
    recorded = ctx.snapshot.recorded
    found = recorded.newest_first(params.offset, params.limit)
    return {
        "files": [file_object(ctx, f) for f in found],
        "total": recorded.total,
        "limit": params.limit,
        "offset": params.offset,
    }


def _recording_info(ctx: Context, params: FileParams) -> Doc:
    """One segment by its file name, if the last pass's scan found it: nothing is read."""
    found = ctx.snapshot.recorded.find(checked(params.filename))
    if found is None:
        raise _not_found(params.filename)
    return file_object(ctx, found)


def _no_files(ctx: Context, params: FilesParams) -> Doc:
    return {"files": [], "total": 0, "limit": params.limit, "offset": params.offset}


def _no_file(ctx: Context, params: FileParams) -> Doc:
    raise _not_found(checked(params.filename))


def _not_found(filename: str) -> RPCError:
    return RPCError(errors.FILE_NOT_FOUND, f"file not found: {filename[:200]}")


def unsafe(filename: str) -> str | None:
    """Why a file name tries to leave the recordings (.., absolute, NUL, backslash), if it
    does; names are as Segment.file gives them ("<path>/<name>")."""
    if "\0" in filename or "\\" in filename:
        return "it contains a NUL or a backslash"
    if filename.startswith("/"):
        return "it is absolute; give it as listed, relative to the recordings root"
    if ".." in filename.split("/"):
        return "'..' components are not allowed"
    return None


def checked(filename: str) -> str:
    """`filename`, unless it tries to leave the recordings: refused outright, not just not
    found."""
    if (reason := unsafe(filename)) is None:
        return filename
    text = f"refusing filename {filename[:200]!r}: {reason}"
    raise RPCError(errors.INVALID_PARAMS, text, [{"field": "filename", "message": text}])


# --- roles and refusals --------------------------------------------------------------


def _for_admins(name: str, answer: Callable[[Context], Doc]) -> Callable[[Context, Params], Doc]:
    def guarded(ctx: Context, params: Params) -> Doc:
        if role_of(ctx) != "admin":
            raise RPCError(
                INSUFFICIENT_PERMISSION,
                f"insufficient permission: {name} needs the admin role: a view token whose "
                "line in the token file says admin (TOKEN admin)",
                {"role": role_of(ctx), "required": "admin"},
            )
        return answer(ctx)

    return guarded


def _declared(kind: str, what: str) -> Any:
    def refuse(ctx: Context, params: AnyParams) -> Doc:
        raise RPCError(
            errors.READ_ONLY,
            f"camctl's state is declared, not changed by calls: {what} "
            f"(kind: {kind}) in your documents or as a Kubernetes resource; this view is "
            "read-only",
            {"kind": kind, "readOnly": True},
        )

    return refuse


REFUSED = {
    "take_snapshot": ("Stream", "read frames from the Stream's URLs; camctl takes no snapshots"),
    "start_recording": ("Recording", "declare a Recording with spec.enabled: true"),
    "stop_recording": ("Recording", "set spec.enabled: false on the Recording"),
    "delete_recording": ("Recording", "set the Recording's spec.retention"),
    "delete_snapshot": ("Stream", "camctl keeps no snapshots"),
    "set_retention_policy": ("Recording", "set the Recording's spec.retention"),
    "cleanup_old_files": ("Recording", "MediaMTX deletes segments older than spec.retention"),
}
# The old service's calls for admins: (summary, result, answer, cacheable per snapshot)
FOR_ADMINS: dict[str, tuple[str, type[Out], Callable[[Context], Doc], bool]] = {
    "get_metrics": ("This view's calls and connections, this process's memory and CPU",
                    Metrics, compat_admin.get_metrics, False),
    "get_status": ("The controller's health as the old service's components", ServiceStatus,
                   compat_admin.get_status, False),
    "get_server_info": ("What this server is and serves", ServerInfo,
                        compat_admin.get_server_info, True),
    "get_storage_info": ("The recordings' disk and the segments on it", StorageInfo,
                         compat_admin.get_storage_info, True),
}  # fmt: skip


def methods() -> list[Method]:
    return [
        Method("authenticate", "Authenticate the connection with a view token",
               AuthenticateParams, Authenticated, _authenticate, cacheable=False, public=True,
               errors=(errors.UNAUTHORIZED,), tag="compat"),
        Method("ping", "Liveness", Params, str, _ping, cacheable=False, public=True, tag="compat"),
        Method("get_camera_list", "Every Camera in the old service's shape", Params,
               CameraListResult, _camera_list, tag="compat"),
        Method("get_camera_status", "One camera, with metrics and capabilities", DeviceParams,
               CameraStatusResult, _camera_status, errors=(errors.CAMERA_NOT_FOUND,),
               tag="compat"),
        Method("get_camera_capabilities", "One camera's formats and the video camctl publishes",
               DeviceParams, CameraCapabilities, _camera_capabilities,
               errors=(errors.CAMERA_NOT_FOUND,), tag="compat"),
        Method("get_streams", "Every Stream's path and runtime state", Params, list[StreamInfo],
               _streams, tag="compat"),
        Method("list_recordings", "Every Recording's segments on this node, newest first",
               FilesParams, FileList, _recordings, tag="compat"),
        Method("get_recording_info", "One segment by its filename, as list_recordings gave it",
               FileParams, FileObject, _recording_info,
               errors=(errors.FILE_NOT_FOUND, errors.INVALID_PARAMS), tag="compat"),
        Method("list_snapshots", "camctl takes no snapshots: always empty", FilesParams,
               FileList, _no_files, tag="compat"),
        Method("get_snapshot_info", "Always file not found", FileParams, FileObject, _no_file,
               errors=(errors.FILE_NOT_FOUND, errors.INVALID_PARAMS), tag="compat"),
        *(
            Method(name, f"{summary} (admin role: the view without a token file)", Params,
                   result, _for_admins(name, answer), cacheable=cacheable,
                   errors=(INSUFFICIENT_PERMISSION,), tag="compat")
            for name, (summary, result, answer, cacheable) in FOR_ADMINS.items()
        ),
        *(
            Method(name, f"Refused: {why}", AnyParams, None, _declared(kind, why),
                   cacheable=False, errors=(errors.READ_ONLY,), tag="compat")
            for name, (kind, why) in REFUSED.items()
        ),
    ]  # fmt: skip
