"""`make demo` / `camctl demo`: the whole flow offline, against the MediaMTX emulator.

It applies examples/gitops with the simulated cameras of examples/devices.yaml, then
plans again to show that a converged controller has nothing left to do.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from pathlib import Path

import click

from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread


def run_demo(examples: Path = Path("examples"), *, keep_running: bool = False) -> int:
    from controller.cli import main  # the demo drives the real commands

    documents, devices = examples / "gitops", examples / "devices.yaml"
    if not documents.is_dir() or not devices.is_file():
        raise click.ClickException(f"run the demo from the repository root ({examples}/ missing)")
    emulator = MediaMTXEmulator()
    with (
        tempfile.TemporaryDirectory(prefix="camctl-demo-") as state,
        run_in_thread(emulator) as url,
    ):
        common = f"{documents} --mediamtx {url} --simulate-devices {devices} --state-dir {state}"
        click.secho(f"MediaMTX emulator at {url}; state in {state}\n", bold=True)
        for command in (f"validate {documents}", f"apply {common}", f"plan {common}"):
            click.secho(f"$ camctl {command}", fg="cyan")
            code = _run(main, command)
            click.echo(f"(exit {code})\n")
        click.echo(f"MediaMTX paths: {', '.join(emulator.path_names())}")
        click.echo(f"API writes: {emulator.write_count} (one per path; the second plan wrote none)")
        if keep_running:
            click.echo(f"\nThe emulator stays up at {url}; try: camctl plan {common}")
            _wait_for_interrupt()
    return code


def _run(main: click.Group, command: str) -> int:
    try:
        main.main(shlex.split(command), prog_name="camctl", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
