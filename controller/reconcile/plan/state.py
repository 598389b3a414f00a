"""The working state of one planning pass, shared by the parts of the planner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from controller.api.conditions import Condition, condition, find, merge_conditions
from controller.api.credentials import Unavailable
from controller.api.desired import Desired
from controller.api.kinds import Ref, Status
from controller.api.mediamtx import PathConfigs
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.reconcile.plan.actions import Action, Withheld, WithheldReason
from controller.reconcile.plan.conditions import idle, summary


@dataclass
class Pass:
    """Working state of one planning pass."""

    desired: Desired
    paths: PathConfigs | None
    inventory: Mapping[str, Owner]
    settings: Settings
    now: datetime
    previous: Mapping[Ref, Status]
    settled: bool
    sampled: datetime | None = None  # when the runtime was read, to the microsecond
    actions: list[Action] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    unplugged: set[str] = field(default_factory=set)  # paths whose camera has no device
    waiting: dict[str, str] = field(default_factory=dict)  # path -> why a change is withheld
    statuses: dict[Ref, Status] = field(default_factory=dict)
    claimed: dict[str, Owner] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    # Network Cameras: the URL MediaMTX pulls (credentials inserted), or why there is none.
    pulls: dict[Ref, str | Unavailable] = field(default_factory=dict)
    recheck: datetime | None = None  # the earliest time a part of the plan wants a new pass
    idle: dict[str, Condition] = field(init=False)

    def __post_init__(self) -> None:
        self.idle = idle(self.now)
        self._soon = self.now + timedelta(seconds=1)
        self._shared: dict[tuple[str, bool | None, str, str], Condition] = {}

    def hold_back(self, from_documents: bool) -> WithheldReason | None:
        """Why a destructive action may not be taken now, if it may not."""
        if from_documents and not self.desired.clean:
            return "unclean"
        return None if self.settled else "unsettled"

    def look_again(self, when: datetime | None) -> None:
        """Ask for a pass at `when` (at least a second from now) even if nothing changes."""
        if when is not None:
            when = max(when, self._soon)
            if self.recheck is None or when < self.recheck:
                self.recheck = when

    def ready(self, key: Ref, status: bool | None, reason: str, message: str) -> Condition:
        """The Ready condition: on most passes the previous one itself, not a copy of it."""
        before = self.previous.get(key)
        old = find(before.conditions, "Ready") if before is not None else None
        text = "Unknown" if status is None else str(status)
        if old is not None and (old.status, old.reason, old.message) == (text, reason, message):
            return old
        return condition("Ready", status, reason, message, self.now)

    def shared(self, type_: str, status: bool | None, reason: str, message: str) -> Condition:
        """A condition many resources have alike, made once a pass (see idle)."""
        key = (type_, status, reason, message)
        if (found := self._shared.get(key)) is None:
            found = self._shared[key] = condition(type_, status, reason, message, self.now)
        return found

    def settle(self, key: Ref, status: Status) -> None:
        """Record a status; an unchanged one is the previous object itself, so this pass's
        copy is freed at once instead of living on into the collector's old generation."""
        before = self.previous.get(key)
        self.statuses[key] = before if before == status else status

    def settle_as(self, key: Ref, kind: type[Status], **fields: Any) -> None:
        """Record the status `kind(**fields)`, building it only when the previous one does
        not already hold exactly these values (on a quiet resync, none is built at all)."""
        before = self.previous.get(key)
        if type(before) is kind and _holds(before, fields):
            self.statuses[key] = before
        else:
            self.statuses[key] = kind(**fields)

    def conditions(
        self,
        key: Ref,
        ready: Condition,
        *,
        reconciling: bool = False,
        stalled: bool = False,
        extra: Sequence[Condition] = (),
    ) -> list[Condition]:
        """Ready, the kstatus pair and `extra`, with the previous times of those whose
        status held."""
        current = summary(ready, reconciling=reconciling, stalled=stalled, idle=self.idle)
        current += extra
        before = self.previous.get(key)
        return current if before is None else merge_conditions(before.conditions, current)


def _holds(status: Status, fields: Mapping[str, Any]) -> bool:
    """Whether `status` has these values, and its defaults for every field not given."""
    return status.__dict__ == {**_defaults(type(status)), **fields}


@cache
def _defaults(kind: type[Status]) -> dict[str, Any]:
    """Each field's default; read-only (shared by every call)."""
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in kind.model_fields.items()
    }
