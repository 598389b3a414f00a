"""`make demo` / `camctl demo`: the whole flow offline, against the MediaMTX emulator.

It applies examples/gitops with the simulated cameras of examples/devices.yaml, and the
network camera of examples/network (its credentials in examples/credentials, a camera the
emulator reaches), plans again to show that a converged controller has nothing left to do,
then (with --live)
runs the controller: edit the examples and watch MediaMTX follow. The emulator writes a
real segment (made by ffmpeg, when it is installed) every few seconds for each recording
path, into the state folder, so Recording status counts them; it also serves MediaMTX's
playback endpoint, where the view's segment links point. Every command it prints can be
pasted as it is, from the folder it runs in. `--emulator-only` serves just the emulator,
at MediaMTX's own ports, for camctl commands of one's own.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import click
from aiohttp import web

from controller.testing.mediamtx import VERSION, MediaMTXEmulator, run_in_thread

SEGMENT_SECONDS = 2.0
# The network camera of examples/network, as the emulator reaches it.
NETWORK_CAMERA = "192.0.2.10:554"
NETWORK_CREDENTIALS = ("viewer", "demo-only-password")
NO_FFMPEG = (
    "ffmpeg is not installed: the emulator writes no recording segments, so Recordings "
    "count none (Debian/Ubuntu: sudo apt install ffmpeg)"
)


def run_demo(
    main: click.Group,
    examples: Path = Path("examples"),
    *,
    live: bool = True,
    view: str | None = None,
) -> int:
    """Validate, apply and plan the examples through `main`, the camctl command line (the
    demo drives the real commands); with `live`, run the controller (and its view on `view`,
    HOST:PORT) until Ctrl-C. The exit code of the last command."""
    documents, devices = examples / "gitops", examples / "devices.yaml"
    network, credentials = examples / "network", examples / "credentials"
    if not all(p.is_dir() for p in (documents, network, credentials)) or not devices.is_file():
        raise click.ClickException(f"run the demo from the repository root ({examples}/ missing)")
    camctl = camctl_command()
    emulator = _emulator()
    with (
        tempfile.TemporaryDirectory(prefix="camctl-demo-") as state,
        run_in_thread(emulator) as url,
    ):
        common = (
            f"{documents} {network} --mediamtx {url} --simulate-devices {devices} "
            f"--state-dir {state} --recordings-root {state}/recordings "
            f"--credentials-root {credentials}"
        )
        click.secho(f"MediaMTX emulator at {url}; state in {state}\n", bold=True)
        for command in (f"validate {documents} {network}", f"apply {common}", f"plan {common}"):
            code = _run(main, camctl, command)
        click.echo(f"MediaMTX paths: {', '.join(emulator.path_names())}")
        click.echo(f"API writes: {emulator.write_count} (one per path; the second plan wrote none)")
        if not live:
            return code
        click.secho(
            f"Now live: edit {documents}/*.yaml or {network}/*.yaml, or unplug a camera by "
            f"deleting it from {devices}. Ctrl-C stops.",
            bold=True,
        )
        _print_next_steps(camctl, f"{camctl} status --state-dir {state}", common, view)
        # Passes every few seconds: the segments the emulator writes wake nothing. Segment
        # links point at the emulator, which serves MediaMTX's playback endpoint too.
        run = f"run {common} --resync 5 --playback-port {url.rsplit(':', 1)[1]}"
        code = _run(main, camctl, run + (f" --view {view}" if view else ""))
    return code


def _emulator() -> MediaMTXEmulator:
    """An emulator that reaches the example network camera, and records when ffmpeg can make
    the segments (it says so once when not)."""
    cameras: dict[str, tuple[str, str] | None] = {NETWORK_CAMERA: NETWORK_CREDENTIALS}
    if shutil.which("ffmpeg") is None:
        click.secho(NO_FFMPEG, fg="yellow", err=True)
        return MediaMTXEmulator(cameras=cameras)
    return MediaMTXEmulator(record_every=SEGMENT_SECONDS, cameras=cameras)


def camctl_command() -> str:
    """How a person runs this camctl from the current folder, as they would paste it: `camctl`
    when that is the one on PATH, else the script beside this Python (`.venv/bin/camctl`)."""
    script = Path(sys.executable).parent / "camctl"
    on_path = shutil.which("camctl")
    if on_path and script.exists() and Path(on_path).resolve() == script.resolve():
        return "camctl"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m controller"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return shlex.quote(str(script))


def _print_next_steps(camctl: str, status: str, common: str, view: str | None) -> None:
    """The commands to try meanwhile, each with the exit status it ends with."""
    tries = [
        (status, "exit 0: every resource's conditions"),
        (f"{camctl} plan {common}", "exit 0: nothing to do (2 while an edit is pending)"),
    ]
    if view:
        server = f"--server http://{view}"
        tries += [
            (f"{camctl} get streams -o wide {server}", "exit 0"),
            (f"{camctl} recordings front-door {server}", "exit 0: segments, playback links"),
            (f"{camctl} status {server}", "exit 0"),
        ]
    click.echo("In another terminal, from this folder (each line works as pasted):")
    for command, result in tries:
        click.echo(f"  {command}  # {result}")
    if view:
        click.echo(f"Dashboard: http://{view}/")
    else:
        click.echo(f"For the dashboard and `camctl get`: {camctl} demo --view")
    if camctl != "camctl":
        click.echo(f"`. {Path(camctl).parent}/activate` puts camctl on your PATH.")
    click.echo("`apply` refuses meanwhile: the running controller holds the state directory.\n")


def _run(main: click.Group, camctl: str, command: str) -> int:
    click.secho(f"$ {camctl} {command}", fg="cyan")
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


def serve_emulator(host: str, port: int, playback_port: int) -> None:
    """`camctl demo --emulator-only`: the emulator at MediaMTX's ports until Ctrl-C."""
    try:
        asyncio.run(_serve(_emulator(), host, port, playback_port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # a port in use, most likely
        raise click.ClickException(f"cannot listen on {host}: {exc.strerror or exc}") from exc


async def _serve(emulator: MediaMTXEmulator, host: str, port: int, playback_port: int) -> None:
    url = await emulator.start(host, port)
    playback = web.AppRunner(emulator.app(), access_log=None, shutdown_timeout=0.1)
    try:
        await playback.setup()  # the same emulator: the playback server's /get on its own port
        await web.TCPSite(playback, host, playback_port).start()
        click.echo(
            f"MediaMTX {VERSION} emulator: Control API at {url}, playback server at "
            f"http://{host}:{playback_port}. Ctrl-C stops."
        )
        await asyncio.Event().wait()
    finally:
        await playback.cleanup()
        await emulator.stop()
