"""Streams: the MediaMTX path each one needs, and whether camctl may write it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

from controller.api.credentials import Unavailable
from controller.api.device import Device
from controller.api.kinds import Camera, Ref, Stream, StreamStatus, StreamUrls, generation, ref
from controller.api.mediamtx import PathConfig, PathRuntime, Runtime
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.reconcile.plan import network
from controller.reconcile.plan.actions import WITHHELD_BECAUSE, Action, Withheld
from controller.reconcile.plan.cameras import last_device
from controller.reconcile.plan.recordings import recording_root
from controller.reconcile.plan.state import Pass
from controller.reconcile.plan.video import Unsupported
from controller.reconcile.plan.video import choose as choose_video
from controller.reconcile.plan.watchdog import watch
from controller.reconcile.render import choose_device, destructive, differing, path_config


def plan_stream(
    state: Pass,
    key: Ref,
    stream: Stream,
    camera: Camera | None,
    matched: Mapping[Ref, Device],
    runtime: Runtime,
) -> None:
    path = stream.path
    observed = None if state.paths is None else state.paths.get(path)
    device = matched.get(ref(camera)) if camera else None
    chosen: dict[str, Any] = {}  # the device name ffmpeg opens, once there is a device
    live: PathRuntime | None = None  # what MediaMTX says of the path, once configured
    wanted: PathConfig | None = None
    unavailable: str | None = None  # why a network Camera's path cannot be written now
    unsupported: str | None = None  # why the camera cannot give the mode asked for
    unwatched: tuple[str, str] | None = None  # why the watchdog has nothing to watch
    if camera is not None and camera.spec.network:
        found = network.wanted(state, stream, camera)
        unavailable, wanted = (
            (found.message, None) if isinstance(found, Unavailable) else (None, found)
        )
    elif device is not None:
        mode = choose_video(stream.spec.video, device)
        if isinstance(mode, Unsupported):
            unsupported = mode.message
        else:
            choice = choose_device(device, stream.spec.device_link or state.settings.device_link)
            chosen = {"device": choice.path, "device_link": choice.link, "video": mode.choice}
            recording = state.desired.recording_of(stream)
            root = recording_root(recording, state.settings) if recording else None
            wanted = path_config(stream, choice.path, recording, root, mode.capture)
    foreign = observed is not None and path not in state.inventory and not stream.spec.adopt
    readopted = foreign and wanted is not None and not differing(wanted, observed or {})
    if camera is None:
        state.kept.add(path)
        ready = state.ready(key, None, "CameraUnknown", "its Camera is not loaded (see errors)")
    elif state.paths is None:
        state.kept.add(path)
        ready = state.ready(key, None, "MediaMTXUnreachable", "MediaMTX could not be read")
        unwatched = ("NotObserved", "MediaMTX could not be read")
    elif foreign and not readopted:
        ready = state.ready(
            key,
            False,
            "PathConflict",
            f"path {path!r} exists and camctl did not create it (set spec.adopt to take it over)",
        )
        unwatched = ("NotOwned", "camctl does not own the path: it never restarts it")
    elif unavailable is not None:
        state.kept.add(path)  # what cannot be read now is no reason to remove anything
        ready = state.ready(key, False, "CameraNotReady", unavailable)
    elif unsupported is not None:
        state.kept.add(path)  # nothing is written for it: what MediaMTX has stays
        ready = state.ready(key, False, "ModeUnsupported", unsupported)
    elif wanted is None:
        # Without its camera the path would only restart ffmpeg in a loop: remove it.
        if last_device(state, camera) is not None:
            state.unplugged.add(path)
        ready = state.ready(key, False, "CameraNotReady", f"{ref(camera)} has no device")
        unwatched = ("DeviceAbsent", "its camera has no device: nothing to restart")
    else:
        owner = Owner(str(key), state.desired.origins.get(key, ""))
        if state.inventory.get(path) == owner:
            owner = state.inventory[path]  # the very same: fewer new objects on each pass
        state.claimed[path] = owner
        converge(state, key, path, wanted, observed)
        live = runtime.get(path, {})
        chosen["node"] = state.settings.node_name
        ready = state.ready(key, True, "PathConfigured", f"MediaMTX path {path!r} is configured")
        if readopted:  # the state directory was lost: what matches exactly is ours again
            message = f"path {path!r} is exactly as camctl renders it: taken back"
            ready = state.ready(key, True, "Readopted", message)
            state.notes.append(f"readopted {path!r}: it matched {key} exactly")
    pending = path in state.pending
    if pending:
        ready = state.ready(key, False, "Reconciling", f"path {path!r} is being configured")
    elif path in state.waiting:
        pending = True
        ready = state.ready(key, False, "Withheld", state.waiting[path])
    owned, writing = path in state.inventory, path in state.pending
    pulled = camera is not None and camera.spec.network
    watched = watch(
        state, key, stream, live, unwatched, owned=owned, writing=writing, pulled=pulled
    )
    if watched.restart and wanted is not None:
        state.actions.append(Action("restart", path, wanted.copy(), {}, key))
    state.look_again(watched.recheck)
    stalled = ready.reason in ("PathConflict", "ModeUnsupported")
    state.settle_as(
        key,
        StreamStatus,
        **watched.fields,  # first: on a quiet pass, what moves is compared first
        observed_generation=generation(stream),
        path=path,
        urls=_urls(path, state.settings),
        conditions=state.conditions(
            key, ready, reconciling=pending, stalled=stalled, extra=(watched.healthy,)
        ),
        **chosen,
    )


def failed_stream(state: Pass, key: Ref, stream: Stream, exc: Exception) -> None:
    """Keep the Stream's path as it is and say why, instead of failing the whole pass."""
    state.kept.add(stream.path)
    state.actions = [a for a in state.actions if a.stream != key]
    state.withheld = [w for w in state.withheld if w.action.stream != key]
    ready = state.ready(key, None, "InternalError", f"camctl could not plan it: {exc!r}")
    status = StreamStatus(
        observed_generation=generation(stream),
        path=stream.path,
        conditions=state.conditions(key, ready, stalled=True),
    )
    state.settle(key, status)


def converge(
    state: Pass, key: Ref, path: str, wanted: PathConfig, observed: PathConfig | None
) -> None:
    diff: dict[str, tuple[object, object]]
    if observed is None:
        diff = {f: (None, v) for f, v in wanted.items()}
        state.actions.append(Action("add", path, wanted.copy(), diff, key))
        state.pending.add(path)
        return
    changes = differing(wanted, observed)
    losing = destructive(changes, observed)
    if losing and (reason := state.hold_back(from_documents=True)):
        held, changes = _split(changes, losing)
        diff = {f: (observed.get(f), v) for f, v in held.items()}
        state.withheld.append(Withheld(Action("patch", path, held, diff, key), reason))
        state.waiting[path] = (
            f"{' and '.join(sorted(held))} of path {path!r} wait: {WITHHELD_BECAUSE[reason]}"
        )
    if changes:
        diff = {f: (observed.get(f), v) for f, v in changes.items()}
        state.actions.append(Action("patch", path, changes, diff, key))
        state.pending.add(path)


def _split(changes: PathConfig, fields: set[str]) -> tuple[PathConfig, PathConfig]:
    """The changes to `fields`, and the others."""
    taken = {f: v for f, v in changes.items() if f in fields}
    left = {f: v for f, v in changes.items() if f not in fields}
    return cast(PathConfig, taken), cast(PathConfig, left)


def url_host(host: str) -> str:
    """A host as URLs write it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@lru_cache(maxsize=4096)
def _urls(path: str, settings: Settings) -> StreamUrls:
    """Made once per path and settings: never changed (statuses are not edited)."""
    host = url_host(settings.public_host)
    return StreamUrls(
        rtsp=f"rtsp://{host}:{settings.rtsp_port}/{path}",
        hls=f"http://{host}:{settings.hls_port}/{path}/",
        webrtc=f"http://{host}:{settings.webrtc_port}/{path}/",
    )
