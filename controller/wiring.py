"""Where a controller is put together: its source of desired state, its device observer,
MediaMTX, the state directory and its sinks. The command line, the demo, the tests and the
benchmarks all build it here, so there is one way it is made.

    source  ─┐                        ┌─> status files (always)
    devices ─┼─> Controller ─ report ─┼─> the view (with --view)
    MediaMTX ┘                        └─> Kubernetes statuses, Events, finalizers
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.api.credentials import CredentialSource
from controller.api.settings import Settings
from controller.observe.devices import DeviceSource, SimulatedDevices, UdevDevices
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, DesiredSource, Timing
from controller.reconcile.metrics import Metrics
from controller.reconcile.report import Sink
from controller.sinks.statusfiles import StatusStore
from controller.sources.files import FileSource

if TYPE_CHECKING:
    from controller.view.state import ViewState


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
