"""The status subresource: what each object's status should say, and whether to write it.

The sink asks after every pass. A status is the planner's, or, for an object that cannot be
planned, why not (Stalled). It is written only when it differs from the live one, and a
change of the video counters alone at most every `COUNTER_INTERVAL` seconds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from controller.api.conditions import Condition, merge_conditions
from controller.api.kinds import Ref, Status
from controller.kit.redact import redact
from controller.sources.kubernetes.store import Entry

# Counters that move with the video: written along with any other change, and on their own
# at most this often, so that live streams do not make the API server churn.
COUNTERS = frozenset({"readers", "bytesReceived", "bitrate", "sampleTime", "watchdog"})
COUNTER_INTERVAL = 300.0


class Targets:
    """The status this node last meant each of its objects to have (once written, or found
    in place: a watch event of an earlier write, older than the status on its way, is no
    overwrite), and when it wrote it."""

    def __init__(self) -> None:
        self.wanted: dict[Ref, dict[str, Any]] = {}
        self.written_at: dict[Ref, float] = {}

    def keep(self, keys: Collection[Ref]) -> None:
        self.wanted = {k: v for k, v in self.wanted.items() if k in keys}

    def overwritten(self, entry: Entry) -> bool:
        """The live status is not the one meant: someone else wrote it."""
        return entry.key in self.wanted and self.wanted[entry.key] != entry.status

    def stale(self, key: Ref, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        if target == live:
            return False
        if _without_counters(target) != _without_counters(live):
            return True
        written = self.written_at.setdefault(key, time.monotonic())  # or, first seen
        return time.monotonic() - written > COUNTER_INTERVAL

    def written(self, key: Ref, status: dict[str, Any]) -> None:
        self.wanted[key] = status
        self.written_at[key] = time.monotonic()

    def forget(self, key: Ref) -> None:
        self.wanted.pop(key, None)
        self.written_at.pop(key, None)


def target(entry: Entry, planned: Status | None) -> dict[str, Any] | None:
    """The status to write: the planner's (invalid objects included).

    Conditions keep the transition times the object already shows while their status holds,
    so a restarted camctl (which remembers no previous statuses) rewrites none.
    """
    if planned is None:
        return None
    body = planned.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["conditions"] = _json(merge_conditions(conditions(entry.status), planned.conditions))
    cleaned: dict[str, Any] = redact(body)
    return {k: v for k, v in cleaned.items() if v is not None}


def conditions(status: Mapping[str, Any]) -> list[Condition]:
    """The conditions a status shows, leaving out any that are malformed."""
    found = []
    for item in status.get("conditions") or []:
        with contextlib.suppress(ValidationError, TypeError):
            found.append(Condition.model_validate(item))
    return found


def _without_counters(status: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k not in COUNTERS}


def _json(items: Iterable[Condition]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json", by_alias=True) for c in items]
