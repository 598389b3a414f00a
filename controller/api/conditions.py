"""Kubernetes-style status conditions, kept by `type`.

`lastTransitionTime` moves only when a condition's `status` changes, as kstatus and
`kubectl wait` expect; a new reason or message alone keeps the old time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

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
    # Built from camctl's own constants on every pass: construct, don't re-validate.
    return Condition.model_construct(
        type=type_, status=text, reason=reason, message=message, last_transition_time=now
    )


def merge_conditions(
    previous: Iterable[Condition], current: Iterable[Condition]
) -> list[Condition]:
    """The current conditions, keeping each one's previous time when its status held."""
    before = {c.type: c for c in previous}
    merged = []
    for cond in current:
        old = before.get(cond.type)
        if old is not None and old.status == cond.status:
            cond = cond.model_copy(update={"last_transition_time": old.last_transition_time})
        merged.append(cond)
    return merged


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
