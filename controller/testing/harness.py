"""A controller on the MediaMTX emulator with simulated cameras, and its view.

For the tests and benchmarks, and to try the dashboard without MediaMTX or cameras:
`python -m controller.testing.harness DOCS DEVICES` serves examples on :9990.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click

from controller import wiring
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.metrics import Metrics
from controller.reconcile.report import Report
from controller.testing.mediamtx import MediaMTXEmulator
from controller.view import DEFAULT_ADDRESS
from controller.view.server import Limits, View, parse_address

T = TypeVar("T")
_unique = itertools.count()
SETTINGS = Settings(node_name="edge-01")
LIMITS = Limits()
QUICK = Timing(resync=60, poll=0.05, drift=0.2, backoff_min=0.05, backoff_max=0.5, settle=0.2)


class Reasons:
    """A sink that remembers why each pass ran, so callers can wait for theirs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def publish(self, report: Report) -> None:
        self.seen.update(report.health.last_reasons)


@dataclass
class Running:
    emulator: MediaMTXEmulator
    controller: Controller
    view: View
    url: str
    reasons: Reasons

    async def settle(self, timeout: float = 10) -> None:
        """Wait for a whole pass that starts after now (its report then published)."""
        reason = f"harness {next(_unique)}"
        self.controller.trigger(reason)
        await eventually(lambda: reason in self.reasons.seen, timeout)


async def eventually(check: Callable[[], T], timeout: float = 10, what: str = "") -> T:
    """Poll `check` every 5 ms until it returns something true, and return that; fail
    after `timeout` seconds naming `what`, or the check's own source."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            if not what:
                try:
                    what = inspect.getsource(check).strip()
                except (OSError, TypeError):
                    what = repr(check)
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.005)
    return result


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
    emulator: MediaMTXEmulator | None = None,
) -> AsyncIterator[Running]:
    """Run until the block ends; yields once the first pass has been published. `emulator`:
    one configured by the caller (recording, cameras it reaches), started here."""
    emulator = emulator or MediaMTXEmulator()
    mediamtx = await emulator.start()
    stop = asyncio.Event()
    try:
        async with MediaMTXClient(mediamtx) as client:
            reasons, state, metrics = Reasons(), wiring.view(settings, state_dir), Metrics()
            parts = wiring.Parts(
                wiring.files([docs]),
                wiring.devices(devices),
                state_dir,
                settings,
                timing,
                sinks=[state, reasons],
            )
            controller = wiring.controller(parts, client, metrics)
            view = View(state, metrics.registry, token_file, limits)
            url = await view.start(*parse_address(address))
            task = asyncio.create_task(controller.run(stop))
            try:
                await eventually(lambda: view.state.snapshot.ready or task.done())
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
