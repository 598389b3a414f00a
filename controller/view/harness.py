"""A controller on the MediaMTX emulator with simulated cameras, and its view.

For the view's tests and benchmark, and to try the dashboard without MediaMTX or
cameras: `python -m controller.view.harness DOCS DEVICES` serves examples on :9990.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from controller.api.kinds import Ref, Status
from controller.api.settings import Settings
from controller.observe.devices import SimulatedDevices
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.statusfiles import StatusStore
from controller.sources.files import FileSource
from controller.testing.mediamtx import MediaMTXEmulator
from controller.view import DEFAULT_ADDRESS
from controller.view.server import Limits, View, parse_address

_unique = itertools.count()
SETTINGS = Settings(node_name="edge-01")
LIMITS = Limits()
QUICK = Timing(resync=60, poll=0.05, drift=0.2, backoff_min=0.05, backoff_max=0.5, settle=0.2)


class Reasons:
    """A status sink that remembers why each pass ran, so callers can wait for theirs."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.seen: set[str] = set()

    async def publish(self, statuses: Mapping[Ref, Status]) -> None:
        self.seen.update(self.controller.health.last_reasons)


@dataclass
class Running:
    emulator: MediaMTXEmulator
    controller: Controller
    view: View
    url: str
    reasons: Reasons

    async def settle(self, timeout: float = 10) -> None:
        """Wait for a whole pass that starts after now (its statuses then published)."""
        reason = f"harness {next(_unique)}"
        self.controller.trigger(reason)
        await until(lambda: reason in self.reasons.seen, timeout)


async def until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def running(
    docs: Path,
    devices: Path,
    state_dir: Path,
    *,
    token_file: Path | None = None,
    address: str = "127.0.0.1:0",
    timing: Timing = QUICK,
    limits: Limits = LIMITS,
    settings: Settings = SETTINGS,
) -> AsyncIterator[Running]:
    """Run until the block ends; yields once the first pass has been published."""
    emulator = MediaMTXEmulator()
    mediamtx = await emulator.start()
    stop = asyncio.Event()
    try:
        async with MediaMTXClient(mediamtx) as client:
            controller = Controller(
                FileSource([docs]),
                SimulatedDevices(devices),
                client,
                Inventory(state_dir),
                StatusStore(state_dir),
                settings,
                timing,
            )
            reasons = Reasons(controller)
            controller.sinks.append(reasons)
            view = View(controller, token_file, limits)
            url = await view.start(*parse_address(address))
            task = asyncio.create_task(controller.run(stop))
            try:
                await until(lambda: view.state.snapshot.ready or task.done())
                yield Running(emulator, controller, view, url, reasons)
            finally:
                stop.set()
                await asyncio.wait_for(task, 5)
                await view.stop()
    finally:
        await emulator.stop()


@click.command()
@click.argument("docs", type=click.Path(exists=True, path_type=Path))
@click.argument("devices", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--view", "address", default=DEFAULT_ADDRESS, show_default=True)
@click.option("--view-token-file", type=click.Path(dir_okay=False, path_type=Path))
def main(docs: Path, devices: Path, address: str, view_token_file: Path | None) -> None:
    """Serve the view of a controller on the emulator until interrupted."""

    async def serve() -> None:
        with tempfile.TemporaryDirectory(prefix="camctl-view-") as state:
            async with running(
                docs, devices, Path(state), token_file=view_token_file, address=address
            ) as run:
                click.echo(f"view at {run.url}; MediaMTX emulator at {run.emulator.url}")
                await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
