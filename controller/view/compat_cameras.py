"""Cameras as the old camera service showed them, remembered from pass to pass, and the
notifications its clients hear on /ws.

After every pass the view's state calls `seen(snapshot, before)`: one camera object per
Camera (its Stream's video and URLs, its Recording's state) and an index of the names a
client may ask for (`/dev/video0`, the by-id and by-path links, the Camera's name). A Camera
whose device is absent keeps the device path it last had, as the old service did: its web
client keys cameras by `device`, so it must hear that very path go DISCONNECTED. The last
paths survive a restart through the status files the previous run left (`remembered`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.api.kinds import Ref
from controller.view.snapshot import Doc, Snapshot, condition_of, ready_of

NOTIFIED = ("device", "status", "name", "resolution", "fps", "streams")
NOT_RECORDING: Doc = {"recording_session": None, "current_file": None, "elapsed_time": None}


@dataclass(frozen=True)
class Joined:
    """A Camera's document with its Stream's and that Stream's Recording's, if declared."""

    camera: Doc
    stream: Doc | None
    recording: Doc | None


@dataclass(frozen=True)
class Seen:
    """What the old service's clients were told last."""

    cameras: Mapping[str, Doc] = field(default_factory=dict)  # "namespace/name" -> object
    joined: Mapping[str, Joined] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)  # a path, link or name -> key
    devices: Mapping[str, str] = field(default_factory=dict)  # key -> the last device path
    # `recording_status_update` params of the current state, for cameras with a Recording
    recordings: Mapping[str, Doc] = field(default_factory=dict)


def seen(snapshot: Snapshot, before: Seen) -> Seen:
    now = datetime.now(UTC)
    cameras, joined, devices, recordings = {}, {}, {}, {}
    for key, found in _joined(snapshot):
        device = _device_of(found.camera) or before.devices.get(key, "")
        if device:
            devices[key] = device
        cameras[key] = obj = camera_object(snapshot, found, device, now)
        joined[key] = found
        if found.recording is not None:
            recordings[key] = _recording_state(snapshot, obj, found.recording)
    return Seen(cameras, joined, _names(cameras, joined), devices, recordings)


def remembered(documents: Sequence[Mapping[str, Any]]) -> Seen:
    """The device path each Camera had in status documents a previous run wrote."""
    devices = {}
    for doc in documents:
        meta, status = doc.get("metadata"), doc.get("status")
        if doc.get("kind") != "Camera" or not isinstance(meta, dict):
            continue
        found = status.get("device") if isinstance(status, dict) else None
        node = found.get("node") if isinstance(found, dict) else None
        if isinstance(node, str) and node:
            devices[f"{meta.get('namespace')}/{meta.get('name')}"] = node
    return Seen(devices=devices)


def _joined(snapshot: Snapshot) -> Iterator[tuple[str, Joined]]:
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
        yield f"{ns}/{name}", Joined(cam, stream, recording)


def _device_of(cam: Doc) -> str | None:
    """The node matched now, else what the Camera itself names: a device or a URL."""
    found = (cam.get("status") or {}).get("device") or {}
    spec = cam["spec"]
    node: str | None = found.get("node") or (spec.get("match") or {}).get("device")
    return node or spec.get("url")


def _names(cameras: Mapping[str, Doc], joined: Mapping[str, Joined]) -> dict[str, str]:
    """Every name a client may ask for; what a device is now wins over what it was."""
    names: dict[str, str] = {}
    for key, obj in cameras.items():
        names.setdefault(obj["device"], key)
        names.setdefault(obj["name"], key)
    for key, found in joined.items():
        device = (found.camera.get("status") or {}).get("device") or {}
        for link in ("node", "byId", "byPath"):
            if device.get(link):
                names[device[link]] = key
    names.pop("", None)
    return names


# --- one camera object -----------------------------------------------------------------


def camera_object(snapshot: Snapshot, found: Joined, device: str, now: datetime) -> Doc:
    cam, stream, recording = found.camera, found.stream, found.recording
    video = (stream or {}).get("spec", {}).get("video", {})
    urls = (stream or {}).get("status", {}).get("urls", {})
    connected = (ready_of(cam) or {}).get("status") == "True"
    configured = recording is not None and (
        (ready_of(recording) or {}).get("reason") == "RecordingConfigured"
    )
    return {
        "device": device,
        "status": "CONNECTED" if connected else "DISCONNECTED",
        "name": cam["metadata"]["name"],
        "resolution": _received_size(snapshot, stream)
        if stream is not None and "width" not in video
        else f"{video.get('width', 1280)}x{video.get('height', 720)}",
        "fps": int(video.get("fps", 30)),
        "streams": {k: urls.get(k) for k in ("rtsp", "webrtc", "hls")},
        "recording": configured,
        **(_recording_fields(snapshot, recording, now) if recording else NOT_RECORDING),
    }


def _received_size(snapshot: Snapshot, stream: Doc) -> str:
    """A passed-through network camera's size, as MediaMTX reports its video track; the
    default until it does."""
    path = stream.get("status", {}).get("path")
    for track in (snapshot.runtime.get(path) or {}).get("tracks2") or [] if path else []:
        props = track.get("codecProps") if isinstance(track, dict) else None
        width, height = (props or {}).get("width"), (props or {}).get("height")
        if isinstance(width, int) and isinstance(height, int):
            return f"{width}x{height}"
    return "1280x720"


def _recording_fields(snapshot: Snapshot, recording: Doc, now: datetime) -> Doc:
    """While MediaMTX writes (the Recording condition is True): the writing period as the
    session, the newest segment as the file and the seconds since writing began."""
    writing = condition_of(recording, "Recording") or {}
    since = writing.get("lastTransitionTime")
    if writing.get("status") != "True" or not isinstance(since, str):
        return NOT_RECORDING
    meta = recording["metadata"]
    newest = snapshot.recorded.newest(Ref("Recording", meta["namespace"], meta["name"]))
    try:
        started = datetime.fromisoformat(since.replace("Z", "+00:00"))
        elapsed: int | None = max(0, int((now - started).total_seconds()))
    except ValueError:
        elapsed = None
    return {
        "recording_session": f"{meta['namespace']}/{meta['name']}@{since}",
        "current_file": (newest.file or None) if newest else None,
        "elapsed_time": elapsed,
    }


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


# --- notifications ---------------------------------------------------------------------


def notifications(before: Seen, after: Seen) -> list[bytes]:
    """What old clients on /ws hear: camera_status_update when what it carries changed or the
    Camera went, recording_status_update when a Recording condition turns True or stops being."""
    out = []
    for key, obj in after.cameras.items():
        params = {k: obj[k] for k in NOTIFIED}
        was = before.cameras.get(key)
        if was is None or params != {k: was[k] for k in NOTIFIED}:
            out.append(_notification("camera_status_update", params))
    for key, obj in before.cameras.items():
        if key not in after.cameras:
            params = {k: obj[k] for k in NOTIFIED} | {"status": "DISCONNECTED"}
            out.append(_notification("camera_status_update", params))
    for key in sorted({*before.recordings, *after.recordings}):
        was, now = before.recordings.get(key, {}), after.recordings.get(key, {})
        if (now.get("status") == "STARTED") != (was.get("status") == "STARTED"):
            params = (now or was) | {"status": now.get("status", "STOPPED")}
            out.append(_notification("recording_status_update", params))
    return out


def _notification(method: str, params: Doc) -> bytes:
    message = {"jsonrpc": "2.0", "method": method, "params": params}
    return json.dumps(message, separators=(",", ":")).encode()
