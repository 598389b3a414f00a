"""One pass, as every sink sees it: what was loaded, seen, planned and done, and the health.

The loop hands the same frozen report to each sink (status files, the view, Kubernetes)
after every pass; a sink reads it and never reaches back into the controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.health import Health
from controller.api.kinds import Ref, Status
from controller.api.loading import LoadResult
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.reconcile.apply import Outcome


@dataclass(frozen=True)
class Report:
    number: int  # passes made by this controller, this one included
    settings: Settings
    health: Health  # a copy: the controller's own goes on changing
    loaded: LoadResult = field(default_factory=lambda: LoadResult(Desired()))
    devices: tuple[Device, ...] = ()
    # None when the pass could not observe and plan (a damaged state directory): the
    # statuses are then the previous pass's.
    outcome: Outcome | None = None
    statuses: Mapping[Ref, Status] = field(default_factory=dict)
    owned: Mapping[str, Owner] = field(default_factory=dict)  # the inventory after it


class Sink(Protocol):
    """Where reports go. A sink that fails raises; the loop says so in the next health and
    carries on: MediaMTX is converged whatever happens to a sink."""

    async def publish(self, report: Report) -> None: ...


class SinkError(Exception):
    """A sink's failure, as one line for health (`cannot write the status files: …`)."""
