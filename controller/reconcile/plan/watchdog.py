"""The watchdog: a live Stream whose path has no publisher, or receives no bytes, for its
stall window has its path recreated, so that MediaMTX starts the publisher afresh (an
ffmpeg that hangs without exiting is never restarted by MediaMTX itself).

Pure, like the rest of the planner: it reads only what a pass already has (MediaMTX's
runtime state of the path, from /v3/paths/list) and remembers from one pass to the next
only through the Stream's previous status (`watchdog`, `restarts`, `lastRestartTime`, the
`Healthy` condition). It also fills in the live figures: readers, bytes, inbound bitrate,
and since when the path has had a publisher.

- Live: `always` with its device present, or `onDemand` while the path has readers.
- Judged on the passes camctl makes anyway (events, the periodic resync); it asks for one
  more only when a window is running out (bytes found standing still, a publisher
  starting, a backoff ending), never while video flows.
- Stalled: not ready (`NotPublishing`), or ready with the bytes received not growing
  (`Stalled`), for `spec.health.stallAfter` (`0s` turns the watchdog off).
- Restarted: only a path camctl owns, served from a present device, with nothing else
  written to it in the pass; once per stall (each restart starts the window again); the
  restarts of a streak wait stallAfter x 2^(n-1) after the one before, at most 10 minutes,
  and an hour healthy ends the streak.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from controller.api.conditions import Condition
from controller.api.kinds import Ref, Stream, StreamStatus, Watchdog
from controller.api.mediamtx import PathRuntime
from controller.api.units import parse_duration
from controller.reconcile.plan.state import Pass

MAX_BACKOFF = 600.0  # seconds: the longest wait between two restarts of a streak
HEALTHY_RESET = timedelta(hours=1)  # healthy this long, a streak of restarts is forgotten
SAMPLE_EVERY = timedelta(seconds=1)  # bytes and bitrate: at most one sample a second


class Watch(NamedTuple):
    """What the watchdog found: the Healthy condition, the status fields it keeps, whether
    to restart the publisher now, and when it wants to look again."""

    healthy: Condition
    fields: dict[str, Any]
    restart: bool = False
    recheck: datetime | None = None


def watch(
    state: Pass,
    key: Ref,
    stream: Stream,
    live: PathRuntime | None,
    unwatched: tuple[str, str] | None,
    *,
    owned: bool,
    writing: bool,
    pulled: bool = False,
) -> Watch:
    """Watch one Stream. `live`: MediaMTX's runtime state of its path, None when camctl does
    not serve it; `unwatched`: why there is nothing to watch (reason, message); `owned`:
    the path is in the inventory; `writing`: the pass adds or changes the path; `pulled`:
    a network camera's, which MediaMTX (or ffmpeg's timeout) reconnects by itself while it
    cannot reach it: only a connection that sends nothing is restarted."""
    before = _before(state, key, stream.path)
    received = _bytes(live) if live else None
    fields = _figures(state.sampled or state.now, live, received, before)
    window = _window(stream.spec.health.stall_after)
    if unwatched is not None or live is None:
        reason, message = unwatched or ("NotServed", "camctl does not serve the path")
        return Watch(state.shared("Healthy", None, reason, message), fields)
    if not window:
        message = "spec.health.stallAfter is 0s: the watchdog is off"
        return Watch(state.shared("Healthy", None, "WatchdogOff", message), fields)
    if stream.spec.mode == "onDemand" and not live.get("readers"):
        message = "an onDemand Stream is watched while it has readers"
        return Watch(state.shared("Healthy", None, "NoReaders", message), fields)
    online = _publishing(live)
    hold = None  # why a stall would not be restarted
    if not owned:
        hold = "not restarted: the path is not camctl's yet"
    elif pulled and not online:
        hold = "MediaMTX keeps trying to reach the camera (see its Camera)"
    return _judge(state, online, received, before, fields, window, hold=hold, writing=writing)


def _judge(
    state: Pass,
    online: bool,
    received: int | None,
    before: StreamStatus | None,
    fields: dict[str, Any],
    window: timedelta,
    *,
    hold: str | None,
    writing: bool,
) -> Watch:
    now = state.now
    memory = before.watchdog if before is not None else None
    was = _healthy_of(before)
    backoff = memory.backoff if memory is not None else 0
    if before is None or memory is None or writing or not _watching(was):
        quiet_since: datetime | None = now  # the watch (re)starts: a whole window's grace
    elif online and received is not None and received != before.bytes_received:
        quiet_since = None  # bytes came in since the last sample
    else:  # from the last sample that saw them grow
        quiet_since = memory.quiet_since or before.sample_time or now
    if quiet_since is None or now - quiet_since < window:
        if online:
            healthy = state.shared("Healthy", True, "Publishing", "MediaMTX is receiving video")
            if backoff and was is not None and _healthy_for(was, now):
                backoff = 0
        elif was is not None and was.status == "True":
            healthy = was  # a gap shorter than the window is no sickness
        else:
            text = f"waiting up to {window.total_seconds():g}s for the publisher"
            healthy = state.shared("Healthy", None, "Starting", text)
        fields["watchdog"] = _memory(memory, quiet_since, backoff)
        # While bytes flow the passes camctl makes anyway suffice (an idle controller must
        # stay idle); once they stand still (or a publisher is starting), look again when
        # the window ends.
        recheck = None if quiet_since is None else quiet_since + window
        return Watch(healthy, fields, recheck=recheck)
    return _stalled(state, before, fields, window, online, backoff, hold=hold, memory=memory)


def _stalled(
    state: Pass,
    before: StreamStatus | None,
    fields: dict[str, Any],
    window: timedelta,
    online: bool,
    backoff: int,
    *,
    hold: str | None,
    memory: Watchdog | None,
) -> Watch:
    """Past the window: restart now if allowed, else say when it will be."""
    now, seconds = state.now, window.total_seconds()
    reason = "Stalled" if online else "NotPublishing"
    what = "no bytes received" if online else "no publisher"
    last = before.last_restart_time if before is not None else None
    due = now
    if last is not None and backoff:
        due = last + timedelta(seconds=min(seconds * 2 ** (backoff - 1), MAX_BACKOFF))
    if hold is None and now >= due:
        restarts = (fields.get("restarts") or 0) + 1
        fields |= {"restarts": restarts, "last_restart_time": now}
        fields["watchdog"] = _memory(memory, now, backoff + 1)
        text = f"{what} for {seconds:g}s: restarted the publisher (restart {restarts})"
        healthy = state.shared("Healthy", False, reason, text)
        return Watch(healthy, fields, restart=True, recheck=now + window)
    if hold is None:
        text = f"{what} for {seconds:g}s; the next restart no sooner than {due:%H:%M:%S} UTC"
    else:
        text = f"{what} for {seconds:g}s; {hold}"
    quiet_since = memory.quiet_since if memory is not None else now
    fields["watchdog"] = _memory(memory, quiet_since, backoff)
    healthy = state.shared("Healthy", False, reason, text)
    return Watch(healthy, fields, recheck=due if hold is None else None)


def _before(state: Pass, key: Ref, path: str) -> StreamStatus | None:
    before = state.previous.get(key)
    if isinstance(before, StreamStatus) and before.path == path:
        return before
    return None


def _watching(was: Condition | None) -> bool:
    """Whether the pass before watched the Stream (else the watch starts again now)."""
    return was is not None and (was.status != "Unknown" or was.reason == "Starting")


def _healthy_of(before: StreamStatus | None) -> Condition | None:
    """The Healthy condition of the status before: the last one, where conditions() puts it."""
    if before is None:
        return None
    for cond in reversed(before.conditions):
        if cond.type == "Healthy":
            return cond
    return None


def _healthy_for(was: Condition, now: datetime) -> bool:
    return was.status == "True" and now - was.last_transition_time >= HEALTHY_RESET


def _memory(memory: Watchdog | None, quiet_since: datetime | None, backoff: int) -> Watchdog:
    if memory is not None and memory.quiet_since == quiet_since and memory.backoff == backoff:
        return memory
    return Watchdog(quiet_since=quiet_since, backoff=backoff)


def _figures(
    now: datetime, live: PathRuntime | None, received: int | None, before: StreamStatus | None
) -> dict[str, Any]:
    """The live figures, and what the watchdog keeps. Bytes and bitrate are sampled at most
    once a second, the bitrate over the time since the sample before, both times those of
    the reads (`now` is when the runtime was read): whole seconds would make a 1.1 s gap
    count as 2 s and halve the rate. A path whose bytes stand still keeps its sample once
    its bitrate says 0, so that a quiet status stays the very same object."""
    fields: dict[str, Any] = {}
    if before is not None:
        fields["restarts"] = before.restarts
        fields["last_restart_time"] = before.last_restart_time
        fields["watchdog"] = before.watchdog
    if live is None:
        return fields
    fields["readers"] = len(live.get("readers") or ()) if live else None
    fields["ready_since"] = _time(live.get("onlineTime") or live.get("readyTime"))
    last = before.sample_time if before is not None else None
    if before is None or last is None:
        fields["bytes_received"], fields["bitrate"], fields["sample_time"] = received, None, now
        return fields
    earlier = before.bytes_received
    if now - last < SAMPLE_EVERY or (received == earlier and not before.bitrate):
        fields["bytes_received"], fields["bitrate"] = earlier, before.bitrate
        fields["sample_time"] = last
        return fields
    bitrate = None
    if received is not None and earlier is not None and received >= earlier:
        bitrate = round((received - earlier) * 8 / (now - last).total_seconds())
    fields["bytes_received"], fields["bitrate"], fields["sample_time"] = received, bitrate, now
    return fields


def _publishing(live: Mapping[str, Any]) -> bool:
    """Whether MediaMTX has a source on the path and receives from it: v1.20's `online`
    and `ready` (`available`), as many of them as it sends; older releases only `ready`."""
    flags = [live[flag] for flag in ("online", "ready", "available") if flag in live]
    return bool(flags) and all(flags)


def _bytes(live: Mapping[str, Any]) -> int | None:
    value = live.get("inboundBytes", live.get("bytesReceived"))
    return value if isinstance(value, int) and value >= 0 else None


def _time(text: Any) -> datetime | None:
    return _parse_time(text) if isinstance(text, str) and text else None


@lru_cache(maxsize=4096)
def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _window(duration: str) -> timedelta:
    return timedelta(microseconds=parse_duration(duration) // 1000)
