"""The continuous controller: wake on events, coalesce them, reconcile, publish, repeat.

Events only say *that* something may have changed: file edits (inotify), udev hotplug,
MediaMTX restarting or drifting (polled), and a periodic resync. Every pass then plans
from whole snapshots, so a lost or duplicated event costs nothing. Failures back off
exponentially, capped, and are retried until MediaMTX answers again. No failure ends the
loop: whatever goes wrong in a pass is shown in health at once and logged once.

Destructive actions wait until the desired state has read the same for `settle` seconds
(a save in several steps is never acted on half-way); the loop wakes itself for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from controller.api.conditions import now
from controller.api.credentials import CredentialSource, Resolved
from controller.api.health import Health
from controller.api.kinds import Ref, Status
from controller.api.loading import LoadResult
from controller.api.settings import Settings
from controller.kit.repeats import Repeats
from controller.kit.watch import FileWatch, WatchGroup
from controller.observe.credentials import CredentialFiles
from controller.observe.devices import DeviceSource
from controller.observe.mediamtx import (
    TESTED_MEDIAMTX,
    MediaMTXClient,
    MediaMTXError,
    tested_with,
)
from controller.observe.recordings import SegmentScanner
from controller.reconcile.apply import SETTLE, Outcome, reconcile_once
from controller.reconcile.inventory import Inventory, InventoryError
from controller.reconcile.metrics import Metrics
from controller.reconcile.report import Report, Sink, SinkError

log = logging.getLogger("camctl")
RECHECK_MARGIN = 0.05  # seconds


def tune_collector() -> None:
    """For a long-running controller: collect the youngest objects ten times less often,
    as a pass makes tens of thousands of short-lived ones (statuses, conditions)."""
    gc.set_threshold(7_000, *gc.get_threshold()[1:])


class DesiredSource(Protocol):
    """Where the declared resources come from: files, or Kubernetes custom resources."""

    def load(self) -> LoadResult: ...

    @property
    def fingerprint(self) -> Hashable: ...

    async def watch(self, notify: Callable[[str], None]) -> None: ...


@runtime_checkable
class WatchesFiles(Protocol):
    """A source whose changes are file changes: the loop watches its files with the others'."""

    @property
    def watch_group(self) -> WatchGroup: ...


@dataclass(frozen=True)
class Timing:
    resync: float = 30.0  # a full pass at least this often, whatever the events said
    coalesce: float = 0.001  # after a wake, let the rest of a burst's events come in
    poll: float = 1.0  # while MediaMTX is unreachable, and the least time between two looks
    drift: float = 5.0  # look (restarted? configs changed?) at least this often
    backoff_min: float = 0.25
    backoff_max: float = 30.0
    stop_grace: float = 1.5  # on SIGTERM, let the current pass finish this long
    settle: float = SETTLE  # documents unchanged this long before anything is removed


class Controller:
    """The one reconcile loop. What it learns in a pass goes out as a `Report` to each of
    its sinks (status files, the view, Kubernetes); they are given when it is built
    (controller.wiring) and never reach back into it."""

    def __init__(
        self,
        source: DesiredSource,
        devices: DeviceSource,
        client: MediaMTXClient,
        inventory: Inventory,
        settings: Settings,
        timing: Timing = Timing(),
        metrics: Metrics | None = None,
        sinks: Sequence[Sink] = (),
        credentials: Sequence[CredentialSource] = (),
    ) -> None:
        self.source, self.devices, self.client = source, devices, client
        # Network cameras' credentials: files, and what else reads some (Kubernetes Secrets).
        self.credentials = [CredentialFiles(settings.credentials_roots), *credentials]
        self.inventory, self.settings, self.timing = inventory, settings, timing
        self.metrics = metrics or Metrics()
        self.sinks = tuple(sinks)
        self.health = Health()
        self.scanner = SegmentScanner(settings.recordings_roots)
        self.statuses: dict[Ref, Status] = {}  # the last pass's: the planner's `previous`
        self.report: Report | None = None  # the last one published
        self._sink_problems: dict[int, str] = {}  # sink -> why its last publish failed
        self._wake = asyncio.Event()
        self._reasons: list[str] = []
        self._backoff = 0.0
        self._converged_inputs: object = None
        self._desired_fingerprint: object = None
        self._stable_since = 0.0  # time.monotonic() when the desired state last changed
        self._settle_at: float | None = None  # a pass is due then, to act once settled
        self._recheck_at: float | None = None  # a pass is due then: the planner asked for it
        self._problems = Repeats(log)
        self.file_watch: FileWatch | None = None  # its fallback_reason is for health

    def trigger(self, reason: str) -> None:
        """Ask for a pass soon; safe to call from any callback on the loop."""
        if len(self._reasons) < 100:
            self._reasons.append(reason)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until `stop` is set; the pass under way then gets `stop_grace` to end."""
        watchers = [asyncio.create_task(self._guard(work, what)) for work, what in self._watches()]
        stopping = asyncio.create_task(stop.wait())
        self.trigger("start")
        try:
            while not stop.is_set():
                if not await self._sleep_until_woken(stopping):
                    self.trigger("retry" if self._backoff else "resync")
                if stop.is_set():
                    break
                await asyncio.sleep(self.timing.coalesce)
                await self._pass_or_stop(stopping)
        finally:
            for task in [*watchers, stopping]:
                task.cancel()
            await asyncio.gather(*watchers, stopping, return_exceptions=True)
            self.inventory.release()

    def _watches(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        """What wakes the loop. Sources that follow files share one file watcher."""
        sources: list[DesiredSource | DeviceSource] = [self.source, self.devices]
        groups = [s.watch_group for s in sources if isinstance(s, WatchesFiles)]
        watches = [
            (s.watch(self.trigger), "watch") for s in sources if not isinstance(s, WatchesFiles)
        ]
        if groups:
            self.file_watch = FileWatch(groups, self.trigger)
            watches.append((self.file_watch.run(), "file watch"))
        return [*watches, (self._poll_mediamtx(), "MediaMTX poll")]

    async def _pass_or_stop(self, stopping: asyncio.Task[Any]) -> None:
        task = asyncio.create_task(self.reconcile())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():  # stopping: give the pass a moment to finish its writes
            await asyncio.wait({task}, timeout=self.timing.stop_grace)
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            log.warning("stopped in the middle of a pass; the inventory keeps it safe")
        except InventoryError as exc:  # the state directory: its message says it all
            await self._failed_pass(str(exc))
        except Exception as exc:
            if f"internal error: {exc!r}" not in self._problems.counts:
                log.exception("reconcile pass failed")  # the traceback once, for a bug report
            await self._failed_pass(f"internal error: {exc!r}")

    async def _failed_pass(self, problem: str) -> None:
        """A pass that could not finish: nothing was written; say so everywhere, retry."""
        self._backoff = self._next_backoff(failed=True)
        h = self.health
        h.passes += 1
        h.last_pass = now().isoformat()
        h.errors = [problem, *self._sink_problems.values()]
        h.last_pass_succeeded = False
        self.metrics.passes.labels(result="error").inc()
        await self._publish(
            Report(h.passes, self.settings, h.model_copy(deep=True), statuses=self.statuses)
        )
        self._problems.report(h.errors)

    async def _sleep_until_woken(self, stopping: asyncio.Task[Any]) -> bool:
        """Wait for an event, a stop, or the next resync/retry; True unless time ran out."""
        woken = asyncio.create_task(self._wake.wait())
        timeout = self._backoff or self.timing.resync
        for due in (self._settle_at, self._recheck_at):
            if due is not None:
                timeout = min(timeout, max(0.0, due - time.monotonic()))
        done, _ = await asyncio.wait(
            {woken, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        woken.cancel()
        if not done and self._settle_at is not None and time.monotonic() >= self._settle_at:
            self._settle_at = None
            self.trigger("documents settled")
            return True
        if not done and self._recheck_at is not None and time.monotonic() >= self._recheck_at:
            self.trigger("recheck")  # a stall window or a flapping camera's hold-down ends
            return True
        return bool(done)

    def _next_backoff(self, failed: bool) -> float:
        if not failed:
            return 0.0
        return min(max(self._backoff * 2, self.timing.backoff_min), self.timing.backoff_max)

    async def reconcile(self) -> Outcome:
        """One pass over whole snapshots; its report goes to every sink."""
        self._wake.clear()
        reasons, self._reasons = self._reasons, []
        started = time.perf_counter()
        loaded = self.source.load()
        devices = self.devices.current()
        settled = self._settled(self.source.fingerprint)
        credentials: dict[Ref, Resolved] = {}
        for source in self.credentials:  # each answers for the Cameras it reads
            credentials |= await source.resolve(loaded.desired)
        inputs = _fingerprint((self.source.fingerprint, frozenset(credentials.items())), devices)
        self.inventory.acquire()
        outcome = await reconcile_once(
            loaded.desired,
            devices,
            self.client,
            self.inventory,
            self.settings,
            settled=settled,
            previous=self.statuses,
            scanner=self.scanner,
            credentials=credentials,
        )
        if any(w.reason == "unsettled" for w in outcome.plan.withheld):
            self._settle_at = self._stable_since + self.timing.settle
        self._recheck_at = _monotonic_at(outcome.plan.recheck)
        elapsed = time.perf_counter() - started
        self.statuses = outcome.statuses
        failed = outcome.observed.error is not None or bool(outcome.failed)
        self._account(outcome, inputs, elapsed, failed)
        self._backoff = self._next_backoff(failed)
        self._update_health(reasons, [str(e) for e in loaded.errors], outcome, failed)
        owned = outcome.plan.inventory_after(r.action.path for r in outcome.failed)
        health = self.health.model_copy(deep=True)
        report = Report(
            health.passes,
            self.settings,
            health,
            loaded,
            tuple(devices),
            outcome,
            outcome.statuses,
            owned,
        )
        await self._publish(report)
        self._log(reasons, outcome, elapsed)
        return outcome

    async def _publish(self, report: Report) -> None:
        """Hand the report to every sink; one that fails is told in the next health."""
        self.report = report
        for sink in self.sinks:
            try:
                await sink.publish(report)
            except SinkError as exc:
                self._sink_problems[id(sink)] = str(exc)
            except Exception as exc:  # a sink that fails must not stop MediaMTX converging
                if id(sink) not in self._sink_problems:
                    log.exception("publishing to %s failed", type(sink).__name__)
                self._sink_problems[id(sink)] = f"{type(sink).__name__} failed: {exc!r}"
            else:
                if self._sink_problems.pop(id(sink), None) is not None:
                    # This report still told of the failure: another one tells it is over.
                    self.trigger(f"{type(sink).__name__}: works again")

    def _warnings(self) -> list[str]:
        """What works, but not as it should: said in health, never a refusal."""
        warnings = []
        version = self.health.mediamtx_version
        if tested_with(version) is False:
            tested = ", ".join(f"v{v}" for v in TESTED_MEDIAMTX)
            warnings.append(
                f"MediaMTX {version} is not a release camctl is tested with ({tested}); "
                "it may work: check the first passes"
            )
        if self.file_watch is not None and (reason := self.file_watch.fallback_reason):
            warnings.append(f"file watch: {reason}")
        return warnings

    def _settled(self, fingerprint: object) -> bool:
        """Whether the desired state has read the same for the settle time."""
        moment = time.monotonic()
        if fingerprint != self._desired_fingerprint:
            self._desired_fingerprint, self._stable_since = fingerprint, moment
        return moment - self._stable_since >= self.timing.settle

    def _account(self, outcome: Outcome, inputs: object, elapsed: float, failed: bool) -> None:
        m = self.metrics
        m.passes.labels(result="error" if failed else "ok").inc()
        m.pass_duration.observe(elapsed)
        m.mediamtx_up.set(0 if outcome.observed.error else 1)
        for result in outcome.results:
            m.actions.labels(op=result.action.op, result="error" if result.error else "ok").inc()
        # A restart is the watchdog's, not a correction of drift.
        applied = sum(r.error is None and r.action.op != "restart" for r in outcome.results)
        if applied and inputs == self._converged_inputs:
            m.drift_corrections.inc(applied)  # nothing declared changed: MediaMTX had drifted
        if not failed:
            m.last_success.set_to_current_time()
        # Converged for these inputs: a write needed later, with the same inputs, is drift.
        # Not while something is withheld: applying it once the documents settle is not.
        self._converged_inputs = inputs if not failed and not outcome.plan.withheld else None

    def _update_health(
        self, reasons: list[str], errors: list[str], outcome: Outcome, failed: bool
    ) -> None:
        h = self.health
        h.passes += 1
        h.last_pass = now().isoformat()
        h.last_reasons = reasons[:10]
        h.mediamtx_reachable = outcome.observed.error is None
        h.errors = errors + ([outcome.observed.error] if outcome.observed.error else [])
        h.errors += [f"{r.action.op} {r.action.path}: {r.error}" for r in outcome.failed]
        h.errors += self._sink_problems.values()
        withheld = [
            f"withheld: {w.action.op} {w.action.path}: {w.message}" for w in outcome.plan.withheld
        ]
        h.notes = [*outcome.plan.notes, *withheld, *self._warnings()]
        h.last_pass_succeeded = not failed
        if not failed:
            h.last_success = h.last_pass

    def _log(self, reasons: list[str], outcome: Outcome, elapsed: float) -> None:
        """What was written, each time; problems once, while they last (see Repeats)."""
        extra = {"reasons": reasons[:10], "duration_ms": round(elapsed * 1000, 1)}
        for result in outcome.results:
            if not result.error:
                log.info("%s %s", result.action.op, result.action.path, extra=extra)
        self._problems.report(self.health.errors, **extra)

    async def _poll_mediamtx(self) -> None:
        """MediaMTX pushes nothing, but its restart closes every connection to it: look
        whether it restarted (or its configs drifted) as soon as an idle connection closes,
        every `drift` seconds, and every `poll` seconds while it cannot be reached. A quiet
        look is one request (the path configs); the start time is asked only when something
        may have happened: a restart that no closed connection told of (behind a proxy)
        still shows, as the paths camctl made are gone."""
        started: str | None = None
        last_configs: str | None = None
        told_back = False
        closing = _ClosingWatch(self.client, self.timing.poll)
        try:
            while True:
                unsure = self.health.mediamtx_reachable is not True
                closed = await closing.wait(self.timing.poll if unsure else self.timing.drift)
                try:
                    configs = await self.client.path_configs_fingerprint()
                    doubt = unsure or closed or started is None or configs != last_configs
                    info = await self.client.info() if doubt else None
                except MediaMTXError:
                    told_back = False
                    if self.health.mediamtx_reachable:
                        self.trigger("mediamtx: unreachable")
                    continue
                # The first look triggers too: a change (or a restart) between the first
                # pass and the baseline would otherwise wait for the resync.
                if configs != last_configs:
                    self.trigger("mediamtx: path configs changed")
                last_configs = configs
                if info is None:  # reachable, nothing closed, nothing changed
                    told_back = False
                    continue
                self.health.mediamtx_version = str(info.get("version"))
                # Answering while the last pass could not reach it: converge now, not at the
                # end of the backoff (up to backoff_max), even if it did not restart meanwhile.
                # Once: if that pass fails too, the backoff holds.
                down = self.health.mediamtx_reachable is False
                if down and not told_back:
                    self.trigger("mediamtx: back")
                elif started is not None and info.get("started") != started:
                    self.trigger("mediamtx: restarted")
                told_back, started = down, info.get("started")
        finally:
            closing.cancel()

    async def _guard(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """A watcher that dies is logged; the periodic resync still covers for it."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; relying on the periodic resync", what)


class _ClosingWatch:
    """An idle connection to MediaMTX, opened again whenever it closes: its closing is news."""

    def __init__(self, client: MediaMTXClient, min_life: float) -> None:
        self.client, self.min_life = client, min_life
        self._task: asyncio.Task[None] | None = None
        self._opened = 0.0

    async def wait(self, timeout: float) -> bool:
        """Until the connection closes or `timeout` passes (True if it closed); never sooner
        than `min_life` after opening it, so that a refused connection (or one a proxy
        closes at once) cannot make the caller spin."""
        if self._task is None or self._task.done():
            self._task, self._opened = asyncio.create_task(self._closed()), time.monotonic()
        await asyncio.wait({self._task}, timeout=timeout)
        if not self._task.done():
            return False
        await asyncio.sleep(max(0.0, self._opened + self.min_life - time.monotonic()))
        return True

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _closed(self) -> None:
        with contextlib.suppress(MediaMTXError):
            await self.client.closes()


def _monotonic_at(when: datetime | None) -> float | None:
    """A wall-clock time as time.monotonic() will read it then; a little late rather than
    early, so that the pass's `now` (to the second) has reached it."""
    if when is None:
        return None
    return time.monotonic() + (when - datetime.now(UTC)).total_seconds() + RECHECK_MARGIN


def _fingerprint(files: Hashable, devices: Sequence[Any]) -> tuple[Hashable, tuple[Any, ...]]:
    """The inputs of a pass, compared with == (never through a repr: Devices are many)."""
    return files, tuple(devices)
