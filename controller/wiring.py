"""Where a controller is put together: its source of desired state, its device observer,
MediaMTX, the state directory and its sinks. The command line, the demo, the tests and the
benchmarks all build it here, so there is one way it is made; `run` and `once` are what
`camctl run` and `camctl plan`/`apply` do with it.

    source  ─┐                        ┌─> status files (always)
    devices ─┼─> Controller ─ report ─┼─> the view (with --view)
    MediaMTX ┘                        └─> Kubernetes statuses, Events, finalizers
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller import __version__
from controller.api.credentials import CredentialSource
from controller.api.device import Device
from controller.api.loading import LoadResult
from controller.api.settings import Settings
from controller.observe.devices import DeviceSource, SimulatedDevices, UdevDevices
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.apply import SETTLE, Outcome, reconcile_once
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, DesiredSource, Timing
from controller.reconcile.metrics import Metrics
from controller.reconcile.report import Sink
from controller.sinks.statusfiles import StatusStore
from controller.sources.files import FileSource

if TYPE_CHECKING:
    from controller.view.state import ViewState

log = logging.getLogger("camctl")


@dataclass
class Parts:
    """What a controller is built from, beside MediaMTX's client."""

    source: DesiredSource
    devices: DeviceSource
    state_dir: Path
    settings: Settings
    timing: Timing = field(default_factory=Timing)
    sinks: Sequence[Sink] = ()  # after the status files, which every controller writes
    # Readers of network cameras' credentials besides their files: Kubernetes Secrets.
    credentials: Sequence[CredentialSource] = ()


def controller(parts: Parts, client: MediaMTXClient, metrics: Metrics | None = None) -> Controller:
    """A controller whose reports go to the status files in the state directory, then to
    the other sinks, in order."""
    return Controller(
        parts.source,
        parts.devices,
        client,
        Inventory(parts.state_dir),
        parts.settings,
        parts.timing,
        metrics,
        sinks=(StatusStore(parts.state_dir), *parts.sinks),
        credentials=parts.credentials,
    )


def files(paths: Sequence[Path], *, follow_links: bool = False) -> FileSource:
    return FileSource(paths, follow_links=follow_links)


def devices(simulated: Path | None = None) -> DeviceSource:
    """udev, or the facts of a simulation file."""
    return SimulatedDevices(simulated) if simulated is not None else UdevDevices()


def kubernetes(
    node_name: str,
    namespace: str | None = None,
    *,
    claim_unassigned: bool = False,
    stop: Callable[[], None] | None = None,
    **options: Any,
) -> tuple[DesiredSource, Sink]:
    """The custom resources as the source, and the sink that writes back to them (they
    share the watched objects and the API client). `options` tune retries, for tests."""
    from controller.sinks.kubernetes import KubernetesSink
    from controller.sources.kubernetes import KubernetesSource

    retries = ("conflict_retry", "unreachable_retry")
    sink_options = {k: options.pop(k) for k in retries if k in options}
    source = KubernetesSource(
        node_name, namespace, claim_unassigned=claim_unassigned, stop=stop, **options
    )
    return source, KubernetesSink(source, **sink_options)


def view(settings: Settings, state_dir: Path) -> ViewState:
    """The view's sink (a `ViewState`), remembering the devices the last run's status files
    name; serve it with controller.view.server.serving."""
    from controller.view.state import ViewState

    return ViewState(settings, StatusStore(state_dir).read()[1])


# --- camctl run, plan and apply ------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What `camctl run` was asked for."""

    settings: Settings
    state_dir: Path
    mediamtx: str  # the Control API's URL
    timing: Timing = field(default_factory=Timing)
    paths: Sequence[Path] = ()  # documents; none with kubernetes
    follow_links: bool = False
    kubernetes: bool = False
    namespace: str | None = None
    claim_unassigned: bool = False
    simulated_devices: Path | None = None
    view_address: str | None = None
    view_token_file: Path | None = None
    read_secrets: bool = False  # network cameras' credentials from Kubernetes Secrets


async def run(what: Run, stop: asyncio.Event) -> Controller:
    """Build the controller `what` describes and run it, with its view, until `stop`."""
    from controller.reconcile.loop import tune_collector

    tune_collector()
    if what.kubernetes:
        node = what.settings.node_name or ""
        source, sink = kubernetes(
            node,
            what.namespace,
            claim_unassigned=what.claim_unassigned,
            stop=stop.set,
            read_secrets=what.read_secrets,
        )
        sinks, scope = [sink], f"namespace {what.namespace}" if what.namespace else "all namespaces"
        watching = f"Kubernetes ({scope}) as node {node}"
    else:
        source, sinks = files(what.paths, follow_links=what.follow_links), []
        watching = ", ".join(map(str, what.paths))
    state = view(what.settings, what.state_dir) if what.view_address else None
    parts = Parts(
        source,
        devices(what.simulated_devices),
        what.state_dir,
        what.settings,
        what.timing,
        sinks=[*sinks, *([state] if state is not None else [])],
        credentials=[source] if what.read_secrets else [],  # type: ignore[list-item]
    )
    metrics = Metrics()
    async with MediaMTXClient.from_env(what.mediamtx) as client:
        built = controller(parts, client, metrics)
        log.info(
            "camctl %s watching %s, MediaMTX at %s, state in %s",
            __version__,
            watching,
            client.url,
            what.state_dir,
        )
        async with _serving(state, metrics, what):
            await built.run(stop)
        log.info("stopped after %d passes", built.health.passes)
        return built


def _serving(
    state: ViewState | None, metrics: Metrics, what: Run
) -> contextlib.AbstractAsyncContextManager[Any]:
    if state is None or what.view_address is None:
        return contextlib.nullcontext()
    from controller.view.server import serving

    return serving(state, metrics.registry, what.view_address, what.view_token_file)


async def once(
    source: FileSource,
    found: Sequence[Device],
    client: MediaMTXClient,
    inventory: Inventory,
    settings: Settings,
    *,
    dry_run: bool,
) -> tuple[Outcome, LoadResult]:
    """One pass of `camctl plan` or `apply` over files. `plan` reads the inventory without
    its lock (it is replaced atomically), so it runs beside a `camctl run`; `apply` reads the
    documents again, SETTLE seconds later, before it removes anything: a file caught
    half-saved removes nothing."""
    from controller.observe.credentials import CredentialFiles

    files = CredentialFiles(settings.credentials_roots)

    async def attempt(result: LoadResult, **kw: Any) -> Outcome:
        credentials = files.read(result.desired.cameras)
        return await reconcile_once(
            result.desired, found, client, inventory, settings, credentials=credentials, **kw
        )

    result = source.load()
    if dry_run:  # what apply would do once the documents have settled
        return await attempt(result, settled=True, dry_run=True), result
    first = await attempt(result, settled=False)
    if not any(w.reason == "unsettled" for w in first.plan.withheld):
        return first, result
    before = source.fingerprint
    await asyncio.sleep(SETTLE)
    result = source.load()
    then = await attempt(result, settled=source.fingerprint == before)
    return replace(then, results=first.results + then.results), result
