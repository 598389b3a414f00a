"""What a plan is: the actions it takes, the removals it holds back, the statuses it reaches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from controller.api.conditions import condition
from controller.api.kinds import Ref, Status, StreamStatus
from controller.api.mediamtx import PathConfig
from controller.api.ownership import Owner
from controller.reconcile.plan.conditions import idle, summary

# A restart recreates a path (delete, then add) so that MediaMTX starts its publisher afresh.
Op = Literal["add", "patch", "delete", "restart"]
WithheldReason = Literal["unclean", "unsettled"]
WITHHELD_BECAUSE: dict[WithheldReason, str] = {
    "unclean": "the documents have errors: fix them, and it follows",
    "unsettled": "the documents changed a moment ago: it follows once they read the same twice",
}


@dataclass(frozen=True)
class Action:
    op: Op
    path: str
    config: PathConfig = field(default_factory=lambda: PathConfig())
    diff: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    stream: Ref | None = None


@dataclass(frozen=True)
class Withheld:
    """A destructive action the plan would take, held back until the documents allow it."""

    action: Action
    reason: WithheldReason

    @property
    def message(self) -> str:
        return WITHHELD_BECAUSE[self.reason]


@dataclass
class Plan:
    actions: list[Action]
    statuses: dict[Ref, Status]
    inventory: dict[str, Owner]
    notes: list[str]
    withheld: list[Withheld] = field(default_factory=list)
    # When the planner wants to look again though nothing changes meanwhile (a watchdog's
    # stall window ends, a flapping camera's hold-down is over); None: no need.
    recheck: datetime | None = None

    @property
    def converged(self) -> bool:
        return not self.actions and not self.withheld

    def inventory_after(self, failed: Iterable[str] = ()) -> dict[str, Owner]:
        """What camctl owns once the actions ran: deleted paths are no longer owned."""
        gone = {a.path for a in self.actions if a.op == "delete"} - set(failed)
        return {p: o for p, o in self.inventory.items() if p not in gone}


def mark_failed(plan: Plan, action: Action, error: str, now: datetime) -> None:
    """Record a failed action in its Stream's status (the plan assumed success).

    A new status object: planned statuses may be the previous pass's own, never changed."""
    status = plan.statuses.get(action.stream) if action.stream else None
    if action.stream and isinstance(status, StreamStatus):
        ready = condition(
            "Ready", False, "ApplyFailed", f"{action.op} {action.path!r}: {error}", now
        )
        conditions = summary(ready, reconciling=True, stalled=False, idle=idle(now))
        plan.statuses[action.stream] = status.model_copy(update={"conditions": conditions})
