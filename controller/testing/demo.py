"""`make demo` / `camctl demo`: the whole flow offline, against the MediaMTX emulator.

It applies examples/gitops with the simulated cameras of examples/devices.yaml, plans
again to show that a converged controller has nothing left to do, then (with --live)
runs the controller: edit the examples and watch MediaMTX follow. The emulator writes a
real segment (made by ffmpeg, when it is installed) every few seconds for each recording
path, into the state folder, so Recording status counts them.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path

import click

from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread

SEGMENT_SECONDS = 2.0


def run_demo(examples: Path = Path("examples"), *, live: bool = True) -> int:
    from controller.cli import main  # the demo drives the real commands

    documents, devices = examples / "gitops", examples / "devices.yaml"
    if not documents.is_dir() or not devices.is_file():
        raise click.ClickException(f"run the demo from the repository root ({examples}/ missing)")
    emulator = MediaMTXEmulator(record_every=SEGMENT_SECONDS if shutil.which("ffmpeg") else None)
    with (
        tempfile.TemporaryDirectory(prefix="camctl-demo-") as state,
        run_in_thread(emulator) as url,
    ):
        common = (
            f"{documents} --mediamtx {url} --simulate-devices {devices} --state-dir {state} "
            f"--recordings-root {state}/recordings"
        )
        # Passes every few seconds: the segments the emulator writes wake nothing.
        live_options = "--resync 5"
        click.secho(f"MediaMTX emulator at {url}; state in {state}\n", bold=True)
        for command in (f"validate {documents}", f"apply {common}", f"plan {common}"):
            code = _run(main, command)
        click.echo(f"MediaMTX paths: {', '.join(emulator.path_names())}")
        click.echo(f"API writes: {emulator.write_count} (one per path; the second plan wrote none)")
        if live:
            click.secho(
                f"\nNow live: edit {documents}/*.yaml, or unplug a camera by deleting it from "
                f"{devices}.\nIn another terminal: camctl status --state-dir {state}\n"
                "Ctrl-C stops.\n",
                bold=True,
            )
            code = _run(main, f"run {common} {live_options}")
    return code


def _run(main: click.Group, command: str) -> int:
    click.secho(f"$ camctl {command}", fg="cyan")
    try:
        main.main(shlex.split(command), prog_name="camctl", standalone_mode=False)
    except SystemExit as exc:
        code = int(exc.code or 0)
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    else:
        code = 0
    click.echo(f"(exit {code})\n")
    return code
