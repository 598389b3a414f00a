"""The old "MediaMTX Camera Service" viewer API, answered from camctl's snapshot.

Its existing dashboards and scripts keep working when pointed at camctl: the same method
names, parameter names, result shapes, error codes and notifications (see
docs/view.md). Calls that changed state there answer an error naming what to declare
instead, since camctl's state lives in documents, not in calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from controller.api.kinds import Ref
from controller.view import errors
from controller.view.errors import RPCError
from controller.view.models import Out, Params
from controller.view.rpc import Context, Method
from controller.view.snapshot import Doc, Snapshot, condition_of, ready_of

FORMAT_NAMES = {"MJPG": "MJPEG"}


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
    model_config = ConfigDict(alias_generator=None)
    authenticated: bool
    role: str
    permissions: list[str]
    expires_at: str | None
    session_id: str


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
    download_url: str


class FileList(Out):
    files: list[FileObject]
    total: int
    limit: int
    offset: int


# --- camera objects ------------------------------------------------------------------


def _joined(snapshot: Snapshot) -> Iterator[tuple[str, Doc, Doc | None, Doc | None]]:
    """Each Camera's key ("namespace/name") with its Stream and that Stream's Recording."""
    streams = {
        (s["metadata"]["namespace"], s["spec"]["camera"]): s for s in snapshot.docs["Stream"]
    }
    recordings = {
        (r["metadata"]["namespace"], r["spec"]["stream"]): r for r in snapshot.docs["Recording"]
    }
    for cam in snapshot.docs["Camera"]:
        ns, name = cam["metadata"]["namespace"], cam["metadata"]["name"]
        stream = streams.get((ns, name))
        recording = recordings.get((ns, stream["metadata"]["name"])) if stream else None
        yield f"{ns}/{name}", cam, stream, recording


def camera_objects(snapshot: Snapshot) -> dict[str, Doc]:
    """Each Camera as the old service showed it, with its Stream's video and URLs."""
    return {key: _camera(cam, stream, rec) for key, cam, stream, rec in _joined(snapshot)}


@dataclass(frozen=True)
class Seen:
    """What the old service's clients were told last: camera objects, and for each camera
    with a Recording the `recording_status_update` params of its current state."""

    cameras: Mapping[str, Doc] = field(default_factory=dict)
    recordings: Mapping[str, Doc] = field(default_factory=dict)


def seen(snapshot: Snapshot) -> Seen:
    cameras, recordings = {}, {}
    for key, cam, stream, recording in _joined(snapshot):
        cameras[key] = obj = _camera(cam, stream, recording)
        if recording is not None:
            recordings[key] = _recording_state(snapshot, obj, recording)
    return Seen(cameras, recordings)


def _recording_state(snapshot: Snapshot, camera: Doc, recording: Doc) -> Doc:
    """STARTED while the Recording condition is True (MediaMTX is writing), else STOPPED;
    the newest segment as `filename` and its seconds so far as `duration`."""
    writing = (condition_of(recording, "Recording") or {}).get("status") == "True"
    meta = recording["metadata"]
    newest = snapshot.recorded.newest(Ref("Recording", meta["namespace"], meta["name"]))
    return {
        "device": camera["device"],
        "status": "STARTED" if writing else "STOPPED",
        "filename": newest.file if newest else "",
        "duration": int(newest.duration) if newest else 0,
    }


def _camera(cam: Doc, stream: Doc | None, recording: Doc | None) -> Doc:
    device = cam.get("status", {}).get("device") or {}
    video = (stream or {}).get("spec", {}).get("video", {})
    urls = (stream or {}).get("status", {}).get("urls", {})
    connected = (ready_of(cam) or {}).get("status") == "True"
    return {
        "device": device.get("node") or cam["spec"]["match"].get("device") or "",
        "status": "CONNECTED" if connected else "DISCONNECTED",
        "name": cam["metadata"]["name"],
        "resolution": f"{video.get('width', 1280)}x{video.get('height', 720)}",
        "fps": int(video.get("fps", 30)),
        "streams": {k: urls.get(k) for k in ("rtsp", "webrtc", "hls")},
        "recording": recording is not None
        and (ready_of(recording) or {}).get("reason") == "RecordingConfigured",
    }


def _find_camera(snapshot: Snapshot, device: str) -> tuple[Doc, Doc, Doc | None]:
    """The camera object, the Camera and its Stream, by a device name or the Camera's."""
    for _, cam, stream, recording in _joined(snapshot):
        obj = _camera(cam, stream, recording)
        found = (cam.get("status", {}).get("device") or {}) | {"name": obj["name"]}
        names = {obj["device"], *(v for k, v in found.items() if k in ("node", "byId", "byPath"))}
        if device in names or device == obj["name"]:
            return obj, cam, stream
    raise RPCError(errors.CAMERA_NOT_FOUND, f"camera not found: {device[:200]}")


def _live(snapshot: Snapshot, stream: Doc | None) -> Mapping[str, Any]:
    path = (stream or {}).get("status", {}).get("path")
    return snapshot.runtime.get(path, {}) if path else {}


def _uptime(live: Mapping[str, Any]) -> int:
    since = live.get("readyTime")
    if not live.get("ready") or not isinstance(since, str):
        return 0
    try:
        started = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return max(0, int((datetime.now(UTC) - started).total_seconds()))


# --- methods -------------------------------------------------------------------------


def _authenticate(ctx: Context, params: AuthenticateParams) -> Doc:
    token = params.auth_token if params.auth_token is not None else params.token
    if ctx.auth.required and not (ctx.session.authenticated or ctx.auth.check(token)):
        raise RPCError(errors.UNAUTHORIZED, "Authentication failed: unknown token")
    session_id = ctx.session.authenticate_compat()
    return {
        "authenticated": True,
        "role": "viewer",
        "permissions": ["view"],
        "expires_at": None,
        "session_id": session_id,
    }


def _ping(ctx: Context, params: Params) -> str:
    return "pong"


def _camera_list(ctx: Context, params: Params) -> Doc:
    cameras = list(camera_objects(ctx.snapshot).values())
    connected = sum(c["status"] == "CONNECTED" for c in cameras)
    return {"cameras": cameras, "total": len(cameras), "connected": connected}


def _camera_status(ctx: Context, params: DeviceParams) -> Doc:
    obj, cam, stream = _find_camera(ctx.snapshot, params.device)
    live = _live(ctx.snapshot, stream)
    device = cam.get("status", {}).get("device") or {}
    return obj | {
        "metrics": {
            "bytes_sent": int(live.get("outboundBytes") or live.get("bytesSent") or 0),
            "readers": len(live.get("readers") or []),
            "uptime": _uptime(live),
        },
        "capabilities": {
            "formats": [FORMAT_NAMES.get(f, f) for f in device.get("formats", [])],
            "resolutions": [obj["resolution"]],
        },
    }


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


def _recordings(ctx: Context, params: FilesParams) -> Doc:
    """Every Recording's segments on this node, newest first, as the last pass found them."""
    recorded = ctx.snapshot.recorded
    found = recorded.newest_first(params.offset, params.limit)
    return {
        "files": [recorded.file_object(f) for f in found],
        "total": recorded.total,
        "limit": params.limit,
        "offset": params.offset,
    }


def _recording_info(ctx: Context, params: FileParams) -> Doc:
    """One segment by its file name, if the last pass's scan found it: nothing is read."""
    found = ctx.snapshot.recorded.find(_checked(params.filename))
    if found is None:
        raise _not_found(params.filename)
    return ctx.snapshot.recorded.file_object(found)


def _no_files(ctx: Context, params: FilesParams) -> Doc:
    return {"files": [], "total": 0, "limit": params.limit, "offset": params.offset}


def _no_file(ctx: Context, params: FileParams) -> Doc:
    raise _not_found(_checked(params.filename))


def _not_found(filename: str) -> RPCError:
    return RPCError(errors.FILE_NOT_FOUND, f"file not found: {filename[:200]}")


def _checked(filename: str) -> str:
    """A file name as Segment.file gives them ("<path>/<name>"); one that tries to leave the
    recordings (.., absolute, NUL, backslash) is refused outright, not just not found."""
    if "\0" in filename or "\\" in filename:
        reason = "it contains a NUL or a backslash"
    elif filename.startswith("/"):
        reason = "it is absolute; give it as listed, relative to the recordings root"
    elif ".." in filename.split("/"):
        reason = "'..' components are not allowed"
    else:
        return filename
    text = f"refusing filename {filename[:200]!r}: {reason}"
    raise RPCError(errors.INVALID_PARAMS, text, [{"field": "filename", "message": text}])


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
            Method(name, f"Refused: {why}", AnyParams, None, _declared(kind, why),
                   cacheable=False, errors=(errors.READ_ONLY,), tag="compat")
            for name, (kind, why) in REFUSED.items()
        ),
    ]  # fmt: skip


# --- notifications -------------------------------------------------------------------


def notifications(before: Seen, after: Seen) -> list[bytes]:
    """What old clients on /ws hear: camera_status_update for each camera object that changed
    or went, recording_status_update when a Recording condition turns True or stops being."""
    out = []
    for key, obj in after.cameras.items():
        if before.cameras.get(key) != obj:
            params = {
                k: obj[k] for k in ("device", "status", "name", "resolution", "fps", "streams")
            }
            out.append(_notification("camera_status_update", params))
    for key, obj in before.cameras.items():
        if key not in after.cameras:
            params = {k: obj[k] for k in ("device", "name", "resolution", "fps", "streams")}
            out.append(_notification("camera_status_update", params | {"status": "DISCONNECTED"}))
    for key in sorted({*before.recordings, *after.recordings}):
        was, now = before.recordings.get(key, {}), after.recordings.get(key, {})
        if (now.get("status") == "STARTED") != (was.get("status") == "STARTED"):
            params = (now or was) | {"status": now.get("status", "STOPPED")}
            out.append(_notification("recording_status_update", params))
    return out


def _notification(method: str, params: Doc) -> bytes:
    message = {"jsonrpc": "2.0", "method": method, "params": params}
    return json.dumps(message, separators=(",", ":")).encode()
