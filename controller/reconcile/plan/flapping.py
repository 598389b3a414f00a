"""Flap damping: a camera whose device keeps coming and going is ignored for a while.

A loose cable or a failing hub can make a device appear and disappear many times a
minute; following each change would add and delete its path (and restart ffmpeg) every
time. When a Camera's device comes or goes more than `Settings.flap_changes` times within
`flap_window` seconds, the Camera is `Ready=False` reason `Flapping` and its Streams are
served as if the device were absent (their path is removed once) until the device has
stayed put (present or absent) for `flap_hold_down` seconds; then it converges normally.

Pure: the history lives in the Camera's status (`flaps`); presence is whether the status
before had a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.api.kinds import CameraStatus, Flaps, Ref
from controller.reconcile.plan.state import Pass


@dataclass(frozen=True)
class Damping:
    flaps: Flaps | None  # the history to keep in the status
    damped: bool  # the device is to be ignored this pass
    recheck: datetime | None = None  # when the hold-down may be over


def damp(state: Pass, key: Ref, present: bool) -> Damping:
    """Record whether the Camera's device came or went since the pass before, and whether
    it is flapping (see the module docstring)."""
    before = state.previous.get(key)
    if not isinstance(before, CameraStatus):
        return Damping(None, False)
    memory = before.flaps
    if memory is None and (before.device is not None) == present:
        return Damping(None, False)  # the usual case: nothing came or went, nothing to keep
    settings, now = state.settings, state.now
    changes = memory.changes if memory else ()
    if (before.device is not None) != present:
        changes = (*changes, now)
    window = timedelta(seconds=settings.flap_window)
    changes = tuple(t for t in changes if now - t < window)[-(settings.flap_changes + 1) :]
    damped_since = memory.damped_since if memory else None
    if damped_since is None and len(changes) > settings.flap_changes:
        damped_since = now
    if damped_since is None:
        return Damping(_flaps(memory, changes, None) if changes else None, False)
    quiet_until = max(changes, default=damped_since) + timedelta(seconds=settings.flap_hold_down)
    if now >= quiet_until:
        return Damping(None, False)  # stable again: forget the history, converge
    return Damping(_flaps(memory, changes, damped_since), True, quiet_until)


def message(state: Pass) -> str:
    """The Ready message of a flapping Camera: the same for the whole hold-down."""
    s = state.settings
    return (
        f"the device came or went more than {s.flap_changes} times in {s.flap_window:g}s: "
        f"ignored until it stays put for {s.flap_hold_down:g}s"
    )


def _flaps(memory: Flaps | None, changes: tuple[datetime, ...], since: datetime | None) -> Flaps:
    if memory is not None and memory.changes == changes and memory.damped_since == since:
        return memory
    return Flaps(changes=changes, damped_since=since)
