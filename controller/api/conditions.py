"""Kubernetes-style status conditions, kept by `type`.

`lastTransitionTime` moves only when a condition's `status` changes, as kstatus and
`kubectl wait` expect; a new reason or message alone keeps the old time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConditionStatus = Literal["True", "False", "Unknown"]


def now() -> datetime:
    """Now, to the second: the precision of every time camctl writes."""
    return datetime.now(UTC).replace(microsecond=0)


class Condition(BaseModel):
    # Immutable, so that one condition can stand in many statuses (see merge_conditions).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    type: str
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    message: str = ""
    last_transition_time: datetime = Field(alias="lastTransitionTime")


def condition(
    type_: str, status: bool | None, reason: str, message: str, now: datetime
) -> Condition:
    """Build a condition from a tri-state: True, False or None for Unknown."""
    text: ConditionStatus = "Unknown" if status is None else ("True" if status else "False")
    # Validated, not model_construct'ed: it checks the reason's spelling, and costs less.
    return Condition(
        type=type_, status=text, reason=reason, message=message, last_transition_time=now
    )


def merge_conditions(
    previous: Iterable[Condition], current: Iterable[Condition]
) -> list[Condition]:
    """The current conditions, keeping each one's previous time when its status held.

    A condition that did not change at all is the previous one itself: a converged
    controller rebuilds thousands of statuses on every resync, and they cost nothing new.
    """
    before = previous if isinstance(previous, list) else list(previous)
    merged = []
    for i, cond in enumerate(current):
        # Statuses list their conditions in the same order pass after pass: look there first.
        old = before[i] if i < len(before) else None
        if old is cond:
            merged.append(old)
            continue
        if old is None or old.type != cond.type:
            old = find(before, cond.type)
        if old is None or old.status != cond.status:
            merged.append(cond)
        elif old.reason == cond.reason and old.message == cond.message:
            merged.append(old)
        else:
            merged.append(
                cond.model_copy(update={"last_transition_time": old.last_transition_time})
            )
    return merged


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    for cond in conditions:
        if cond.type == type_:
            return cond
    return None
