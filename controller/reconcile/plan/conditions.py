"""The conditions every status carries: Ready, and kstatus' Reconciling and Stalled."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from controller.api.conditions import Condition, condition


def summary(
    ready: Condition, *, reconciling: bool, stalled: bool, idle: Mapping[str, Condition]
) -> list[Condition]:
    """Ready plus the kstatus pair, so `kubectl wait` and kstatus users both understand it."""
    return [
        ready,
        flag("Reconciling", reconciling, ready, idle),
        flag("Stalled", stalled, ready, idle),
    ]


def flag(type_: str, on: bool, ready: Condition, idle: Mapping[str, Condition]) -> Condition:
    """Reconciling or Stalled: True for Ready's reason, else the pass's one shared `idle`."""
    if not on:
        return idle[type_]
    return condition(type_, True, ready.reason, ready.message, ready.last_transition_time)


def idle(now: datetime) -> dict[str, Condition]:
    """Reconciling and Stalled when False: alike for every resource, so made once a pass
    (conditions are immutable; thousands of copies would only keep the collector busy)."""
    return {type_: condition(type_, False, "Idle", "", now) for type_ in ("Reconciling", "Stalled")}
