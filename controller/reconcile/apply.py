"""One reconcile pass: observe MediaMTX, plan, apply the actions, keep the inventory.

The inventory is written *before* a path is added and trimmed only *after* a delete
succeeds, so a controller killed mid-apply finds on restart that it owns whatever it may
have created: no duplicates, no orphans, no false PathConflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.kinds import Ref, Status
from controller.observe.mediamtx import MediaMTXClient, MediaMTXError
from controller.reconcile.inventory import Inventory
from controller.reconcile.plan import Action, Plan, Settings, mark_failed, plan

CONCURRENCY = 8


@dataclass(frozen=True)
class Observed:
    paths: Mapping[str, Mapping[str, Any]] | None
    runtime: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Result:
    action: Action
    error: str | None = None


@dataclass
class Outcome:
    plan: Plan
    results: list[Result]
    observed: Observed

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.error is not None]


async def observe(client: MediaMTXClient) -> Observed:
    """Path configs and runtime state; an unreachable MediaMTX is a fact, not a crash."""
    try:
        paths, runtime = await asyncio.gather(client.list_path_configs(), client.list_paths())
    except MediaMTXError as exc:
        return Observed(None, {}, str(exc))
    return Observed(paths, runtime)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def reconcile_once(
    desired: Desired,
    devices: Sequence[Device],
    client: MediaMTXClient,
    inventory: Inventory,
    settings: Settings,
    *,
    dry_run: bool = False,
    previous: Mapping[Ref, Status] | None = None,
) -> Outcome:
    observed = await observe(client)
    owned = inventory.load()
    result = plan(
        desired, devices, observed.paths, owned, settings, now(), previous, observed.runtime
    )
    if dry_run or not result.actions:
        if not dry_run and result.inventory != owned:
            inventory.save(result.inventory)
        return Outcome(result, [], observed)
    results = await execute(client, inventory, owned, result)
    return Outcome(result, results, observed)


async def execute(
    client: MediaMTXClient, inventory: Inventory, owned: Mapping[str, Any], result: Plan
) -> list[Result]:
    inventory.save({**owned, **result.inventory})  # intent first: see the module docstring
    limit = asyncio.Semaphore(CONCURRENCY)

    async def run(action: Action) -> Result:
        async with limit:
            try:
                await _send(client, action)
            except MediaMTXError as exc:
                return Result(action, str(exc))
            return Result(action)

    results = await asyncio.gather(*(run(a) for a in result.actions))
    deleted = {r.action.path for r in results if r.action.op == "delete" and r.error is None}
    inventory.save({p: o for p, o in result.inventory.items() if p not in deleted})
    for failure in (r for r in results if r.error is not None):
        mark_failed(result, failure.action, failure.error or "", now())
    return list(results)


async def _send(client: MediaMTXClient, action: Action) -> None:
    if action.op == "add":
        await client.add_path_config(action.path, action.config)
    elif action.op == "patch":
        await client.patch_path_config(action.path, action.config)
    else:
        await client.delete_path_config(action.path)
