"""One reconcile pass: observe MediaMTX, plan, apply the actions, keep the inventory.

The inventory is written *before* a path is added and trimmed only *after* a delete
succeeds, so a controller killed mid-apply finds on restart that it owns whatever it may
have created: no duplicates, no orphans, no false PathConflict.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from controller.api.conditions import now
from controller.api.credentials import Resolved
from controller.api.desired import Desired
from controller.api.device import Device
from controller.api.kinds import Ref, Status
from controller.api.mediamtx import PathConfig, PathConfigs, Runtime
from controller.api.recorded import RecordingFiles
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient, MediaMTXError, PathNotFound
from controller.observe.recordings import SegmentScanner, listed_by_mediamtx
from controller.reconcile.inventory import Inventory
from controller.reconcile.plan import (
    Action,
    Plan,
    RecordTarget,
    mark_failed,
    plan,
    record_targets,
)

CONCURRENCY = 8
# Seconds the documents must read the same before anything is removed: longer than an
# editor takes to write a file in several steps, short enough to go unnoticed.
SETTLE = 2.0


@dataclass(frozen=True)
class Observed:
    paths: PathConfigs | None
    runtime: Runtime = field(default_factory=dict)
    error: str | None = None
    recordings: Mapping[Ref, RecordingFiles] = field(default_factory=dict)
    read_at: datetime | None = None  # when the runtime was read, to the microsecond
    # Network cameras' credentials, as read before the pass (never shown: see redact()).
    credentials: Mapping[Ref, Resolved] = field(default_factory=dict, repr=False)


@dataclass
class Result:
    action: Action
    error: str | None = None


@dataclass
class Outcome:
    plan: Plan
    results: list[Result]
    observed: Observed
    statuses: dict[Ref, Status]

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.error is not None]


async def observe(
    client: MediaMTXClient, scanner: SegmentScanner, targets: Mapping[Ref, RecordTarget]
) -> Observed:
    """Path configs, runtime state and recorded files; an unreachable MediaMTX is a fact, not
    a crash. The files are read on a worker thread: the loop keeps answering meanwhile."""
    files = asyncio.create_task(_scanned(scanner, targets))
    try:
        paths, runtime = await asyncio.gather(client.list_path_configs(), client.list_paths())
    except MediaMTXError as exc:
        return Observed(None, {}, str(exc), await files)
    read_at = datetime.now(UTC)
    return Observed(paths, runtime, None, await _fill_in(client, await files), read_at=read_at)


async def _fill_in(
    client: MediaMTXClient, found: dict[Ref, RecordingFiles]
) -> dict[Ref, RecordingFiles]:
    """Where camctl cannot read a Recording's files (its root not mounted here, say), the
    segments MediaMTX itself lists for the path, so that they can still be played back."""
    unread = {key: files for key, files in found.items() if files.error and not files.segments}
    limit = asyncio.Semaphore(CONCURRENCY)

    async def ask(files: RecordingFiles) -> RecordingFiles:
        async with limit:
            try:
                listing = await client.get_recordings(files.path)
            except MediaMTXError:  # not recording (400), no such path (404), or down
                return files
        segments = listing.get("segments") if isinstance(listing, dict) else None
        starts = [s.get("start") for s in segments or () if isinstance(s, dict)]
        return listed_by_mediamtx(files, [s for s in starts if isinstance(s, str)])

    answers = await asyncio.gather(*(ask(files) for files in unread.values()))
    return {**found, **dict(zip(unread, answers, strict=True))}


async def _scanned(
    scanner: SegmentScanner, targets: Mapping[Ref, RecordTarget]
) -> dict[Ref, RecordingFiles]:
    return await asyncio.to_thread(scan, scanner, targets) if targets else {}


def scan(scanner: SegmentScanner, targets: Mapping[Ref, RecordTarget]) -> dict[Ref, RecordingFiles]:
    found = scanner.scan_many([(t.root, t.path, t.format) for t in targets.values()])
    return dict(zip(targets, found, strict=True))


async def reconcile_once(
    desired: Desired,
    devices: Sequence[Device],
    client: MediaMTXClient,
    inventory: Inventory,
    settings: Settings,
    *,
    settled: bool,
    dry_run: bool = False,
    previous: Mapping[Ref, Status] | None = None,
    scanner: SegmentScanner | None = None,
    credentials: Mapping[Ref, Resolved] | None = None,
) -> Outcome:
    """Observe, plan and (unless `dry_run`) apply; statuses describe the state reached.

    `settled`: the desired state read the same twice, a settle time apart; destructive
    actions wait for it (see the planner). Pass a long-lived `scanner` where passes
    repeat: it caches what the files were. `credentials`: the network Cameras', as read
    before the pass."""
    scanner = scanner or SegmentScanner(settings.recordings_roots)
    observed = await observe(client, scanner, record_targets(desired, settings))
    observed = replace(observed, credentials=credentials or {})
    owned = inventory.load()
    if not dry_run:
        inventory.migrate()  # an older camctl's file: this format, the old one kept beside

    def plan_against(paths: PathConfigs | None, owners: Any) -> Plan:
        return plan(
            desired,
            devices,
            paths,
            owners,
            settings,
            now(),
            previous,
            observed.runtime,
            observed.recordings,
            settled=settled,
            credentials=observed.credentials,
            sampled=observed.read_at,
        )

    result = plan_against(observed.paths, owned)
    if dry_run or not result.actions:
        if not dry_run and result.inventory != owned:
            inventory.save(result.inventory)
        outcome = Outcome(result, [], observed, result.statuses)
    else:
        results = await execute(client, inventory, owned, result)
        # Plan once more against what MediaMTX now holds: no I/O, and honest statuses.
        reached = plan_against(project(observed.paths or {}, results), result.inventory_after())
        for failure in (r for r in results if r.error is not None):
            mark_failed(reached, failure.action, failure.error or "", now())
        outcome = Outcome(result, results, observed, reached.statuses)
    if not dry_run and observed.error is None and not outcome.failed:
        inventory.forget_previous()  # a good pass in this format: the older file may go
    return outcome


async def execute(
    client: MediaMTXClient, inventory: Inventory, owned: Mapping[str, Any], result: Plan
) -> list[Result]:
    """Send the actions, a few at a time; one failure does not stop the others."""
    intent = {**owned, **result.inventory}
    if intent != owned:  # a patch of a path camctl owns already changes no ownership
        inventory.save(intent)  # intent first: see the module docstring
    limit = asyncio.Semaphore(CONCURRENCY)

    async def run(action: Action) -> Result:
        async with limit:
            try:
                await _send(client, action)
            except MediaMTXError as exc:
                return Result(action, str(exc))
            return Result(action)

    results = await asyncio.gather(*(run(a) for a in result.actions))
    after = result.inventory_after(failed=(r.action.path for r in results if r.error))
    if after != intent:
        inventory.save(after)
    return list(results)


def project(paths: PathConfigs, results: Sequence[Result]) -> dict[str, PathConfig]:
    """MediaMTX's paths as the successful actions left them."""
    after = dict(paths)
    for r in results:
        if r.error is not None:
            continue
        if r.action.op == "delete":
            after.pop(r.action.path, None)
        else:
            config = after.get(r.action.path, PathConfig()).copy()
            config.update(r.action.config)
            after[r.action.path] = config
    return after


async def _send(client: MediaMTXClient, action: Action) -> None:
    """One action; a restart is a delete and then an add, in that order, of the one path."""
    if action.op in ("delete", "restart"):
        with contextlib.suppress(PathNotFound):  # already gone: the goal is reached
            await client.delete_path_config(action.path)
    if action.op in ("add", "restart"):
        await client.add_path_config(action.path, action.config)
    elif action.op == "patch":
        await client.patch_path_config(action.path, action.config)
