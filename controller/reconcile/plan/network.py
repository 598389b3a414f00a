"""Network cameras: the URL MediaMTX pulls for each, their Streams' paths, their status.

A network Camera has no device to match: its Streams can be planned once its credentials
are known (`pulls`), and the Camera's status comes last, from MediaMTX's runtime state of
its Streams' paths: `Connected` while one receives from the camera, `Unreachable` while an
always-on path does not. Credentials that cannot be read write nothing and remove nothing:
a file or a Secret that cannot be read is a reading problem, like a broken document.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.api.credentials import Credentials, Resolved, Unavailable
from controller.api.kinds import Camera, CameraStatus, Ref, SourceStatus, Stream, generation, ref
from controller.api.mediamtx import PathConfig, Runtime
from controller.reconcile.plan.recordings import recording_root
from controller.reconcile.plan.state import Pass
from controller.reconcile.render import network_path_config, source_url

NOT_READ = Unavailable("not read yet")


def pulls(state: Pass, cameras: Mapping[Ref, Camera], credentials: Mapping[Ref, Resolved]) -> None:
    """What MediaMTX pulls for each network Camera, or why it cannot be told."""
    for key, camera in cameras.items():
        url = camera.spec.url
        if url is None:
            continue
        if camera.spec.credentials is None:
            state.pulls[key] = url
            continue
        found = credentials.get(key, NOT_READ)
        if isinstance(found, Credentials):
            state.pulls[key] = source_url(url, found)
        else:
            where = "its credentials" if found is NOT_READ else "credentials"
            state.pulls[key] = Unavailable(f"{where}: {found.message}")


def wanted(state: Pass, stream: Stream, camera: Camera) -> PathConfig | Unavailable:
    """The managed fields of the path of a network Camera's Stream, or why there are none."""
    pull = state.pulls.get(ref(camera), NOT_READ)
    if isinstance(pull, Unavailable):
        return Unavailable(f"{ref(camera)} cannot be pulled: {pull.message}")
    recording = state.desired.recording_of(stream)
    root = recording_root(recording, state.settings) if recording else None
    return network_path_config(stream, camera, pull, recording, root)


def camera_statuses(state: Pass, cameras: Mapping[Ref, Camera], runtime: Runtime) -> None:
    """Each network Camera's status, once its Streams are planned."""
    if not state.pulls:  # no network Camera: nothing to look at
        return
    streams: dict[Ref, list[Stream]] = {key: [] for key in state.pulls}
    for stream in state.desired.streams.values():
        camera = state.desired.camera_of(stream)
        if camera is not None and ref(camera) in streams:
            streams[ref(camera)].append(stream)
    for key in state.pulls:
        _status(state, key, cameras[key], sorted(streams[key], key=lambda s: s.path), runtime)


def _status(
    state: Pass,
    key: Ref,
    camera: Camera,
    streams: list[Stream],
    runtime: Runtime,
) -> None:
    pull = state.pulls.get(key, NOT_READ)
    served = [s for s in streams if s.path in state.claimed and s.path not in state.pending]
    live = next((s for s in served if (runtime.get(s.path) or {}).get("ready")), None)
    always = [s for s in served if s.spec.mode == "always"]
    watched = live or next(iter(always), None) or next(iter(served), None)
    connected: bool | None = None
    if isinstance(pull, Unavailable):
        ready = state.ready(key, False, "CredentialsUnavailable", pull.message)
    elif state.paths is None:
        ready = state.ready(key, None, "MediaMTXUnreachable", "MediaMTX could not be read")
    elif live is not None:
        connected = True
        ready = state.ready(key, True, "Connected", f"MediaMTX receives it on {live.path!r}")
    elif not streams:
        ready = state.ready(key, None, "Unused", "no Stream uses it: nothing pulls it")
    elif watched is None or (always and watched.path not in runtime):
        message = "MediaMTX has not begun to pull it yet"
        ready = state.ready(key, None, "Connecting", message)
    elif always:
        connected = False
        message = f"MediaMTX is not receiving it on {watched.path!r}; it keeps trying"
        ready = state.ready(key, False, "Unreachable", message)
    else:
        message = f"MediaMTX pulls it while {watched.path!r} is read: nobody reads it now"
        ready = state.ready(key, None, "OnDemand", message)
    item = (runtime.get(watched.path) or {}) if watched is not None and connected else {}
    source = SourceStatus(
        url=camera.spec.url or "",
        path=watched.path if watched is not None else None,
        connected=connected,
        since=item.get("readyTime") if connected else None,
    )
    state.settle(
        key,
        CameraStatus(
            observed_generation=generation(camera),
            conditions=state.conditions(key, ready),
            source=source,
        ),
    )
