"""The `camctl` command line: validate, devices, plan, apply, schema, demo.

Commands are thin: they gather the snapshots (files, devices, MediaMTX), hand them to the
reconcile package and print what came back. Exit codes: 0 done or converged, 1 an error,
2 (plan only) changes pending.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from controller import __version__
from controller.api.device import Device
from controller.api.kinds import API_VERSION, Ref
from controller.api.loading import LoadResult
from controller.api.schema import document_schema
from controller.api.settings import (
    DEFAULT_CREDENTIALS_ROOT,
    DEFAULT_RECORDINGS_ROOT,
    Settings,
)
from controller.output import (
    action_json,
    blocked,
    devices_table,
    plan_summary,
    plan_text,
    render_yaml,
    status_json,
    status_report,
    status_table,
    to_json,
    withheld_json,
)
from controller.reconcile.inventory import (
    Inventory,
    InventoryError,
    InventoryInUse,
    default_state_dir,
)
from controller.sources.files import load
from controller.sources.suggest import documents as suggested_documents
from controller.view import DEFAULT_ADDRESS as DEFAULT_VIEW_ADDRESS
from controller.view.commands import get as get_command
from controller.view.commands import recordings as recordings_command

if TYPE_CHECKING:
    pass

F = TypeVar("F", bound=Callable[..., Any])
# camctl demo --scenario (controller/testing/scenarios.py, imported only when one is played).
SCENARIO_NAMES = [
    "camera-unplugged",
    "broken-edit",
    "mediamtx-restarted",
    "stalled-stream",
    "disk-filling",
]
# plan: 0 nothing to write and nothing blocked; 1 an error (a document, MediaMTX); 2 changes
# pending (to write, or withheld); 3 nothing to write, but resources cannot be served.
EXIT_ERROR, EXIT_PENDING, EXIT_BLOCKED = 1, 2, 3


def paths_argument(required: bool = True) -> Callable[[F], F]:
    return click.argument(
        "paths", nargs=-1, required=required, type=click.Path(exists=True, path_type=Path)
    )


output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
simulate_option = click.option(
    "--simulate-devices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CAMCTL_SIMULATE_DEVICES",
    help="Read device facts from this YAML file instead of udev.",
)


def _absolute_roots(_: click.Context, param: click.Parameter, roots: tuple[str, ...]) -> Any:
    """Absolute, normalised roots: allowed() compares them as text."""
    return tuple(os.path.normpath(os.path.abspath(root)) for root in roots)


def controller_options(func: F, *, paths_required: bool = True) -> F:
    """Options of the commands that talk to MediaMTX."""
    options = [
        click.option(
            "--mediamtx",
            envvar="CAMCTL_MEDIAMTX_URL",
            default="http://127.0.0.1:9997",
            show_default=True,
            help="MediaMTX Control API URL (credentials: CAMCTL_MEDIAMTX_USER/_PASSWORD).",
        ),
        click.option(
            "--state-dir",
            envvar="CAMCTL_STATE_DIR",
            type=click.Path(file_okay=False, path_type=Path),
            help="Where the inventory of owned paths lives [default: ~/.local/state/camctl].",
        ),
        click.option(
            "--node-name",
            envvar="CAMCTL_NODE_NAME",
            default=socket.gethostname,
            help="This machine's name, for Cameras with spec.node [default: hostname].",
        ),
        click.option(
            "--device-link",
            type=click.Choice(["byId", "byPath", "node"]),
            envvar="CAMCTL_DEVICE_LINK",
            default="byId",
            show_default=True,
            help="Which device name ffmpeg opens when a Stream does not say.",
        ),
        click.option(
            "--public-host",
            envvar="CAMCTL_PUBLIC_HOST",
            help="Host name in the stream URLs shown in status [default: MediaMTX's host].",
        ),
        click.option(
            "--allow-empty",
            is_flag=True,
            help="Let an empty source delete every path camctl owns.",
        ),
        click.option(
            "--recordings-root",
            "recordings_roots",
            multiple=True,
            envvar="CAMCTL_RECORDINGS_ROOT",
            type=click.Path(file_okay=False, path_type=str),
            callback=_absolute_roots,
            help="A directory Recordings may write to and camctl reads; repeat for several. "
            f"The first is where a Recording without spec.root goes [default: "
            f"{DEFAULT_RECORDINGS_ROOT}].",
        ),
        click.option(
            "--disk-low",
            "disk_low_percent",
            type=click.FloatRange(0, 100),
            default=10.0,
            show_default=True,
            envvar="CAMCTL_DISK_LOW",
            help="DiskLow on a Recording when less than this percentage of its disk is free.",
        ),
        click.option(
            "--credentials-root",
            "credentials_roots",
            multiple=True,
            envvar="CAMCTL_CREDENTIALS_ROOT",
            type=click.Path(file_okay=False, path_type=str),
            callback=_absolute_roots,
            help="A directory network cameras' credential files (spec.credentials.file) may "
            "be in; repeat for several. A relative file name is taken from the first "
            f"[default: {DEFAULT_CREDENTIALS_ROOT}, and systemd's $CREDENTIALS_DIRECTORY].",
        ),
        click.option(
            "--follow-links",
            is_flag=True,
            envvar="CAMCTL_FOLLOW_LINKS",
            help="Read documents that links lead to outside the given folders.",
        ),
        simulate_option,
        paths_argument(paths_required),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="camctl")
def main() -> None:
    """Declare cameras, streams and recordings in YAML; camctl makes MediaMTX match."""


@main.command()
@output_option
@paths_argument()
def validate(paths: tuple[Path, ...], output: str) -> None:
    """Check documents without touching MediaMTX; print every error, exit 1 on any."""
    result = load(paths)
    if output == "json":
        click.echo(
            to_json(
                {
                    "valid": not result.errors,
                    "files": len(result.files),
                    "resources": len(result.desired),
                    "errors": [str(e) for e in result.errors],
                }
            )
        )
    else:
        _print_errors(result)
        if not result.errors:
            click.echo(f"{len(result.files)} file(s), {len(result.desired)} resource(s): valid")
    sys.exit(EXIT_ERROR if result.errors else 0)


@main.command()
@output_option
def version(output: str) -> None:
    """camctl's version, its document API and state format, the MediaMTX it is tested with."""
    from controller.observe.mediamtx import TESTED_MEDIAMTX
    from controller.reconcile.inventory import FORMAT_VERSION, READS

    facts = {
        "camctl": __version__,
        "apiVersion": API_VERSION,
        "stateFormat": FORMAT_VERSION,
        "stateFormatsRead": sorted(READS),
        "mediamtxTested": list(TESTED_MEDIAMTX),
    }
    if output == "json":
        click.echo(to_json(facts))
        return
    click.echo(f"camctl {__version__}")
    click.echo(f"documents: {API_VERSION}")
    click.echo(f"state format: {FORMAT_VERSION} (reads {', '.join(map(str, sorted(READS)))})")
    click.echo(f"MediaMTX: tested with {', '.join('v' + v for v in TESTED_MEDIAMTX)}")


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Choice(["json", "yaml"]),
    default="json",
    show_default=True,
    help="The schema is a document: JSON (for editors' $schema) or the same as YAML.",
)
def schema(output: str) -> None:
    """Print the JSON Schema of camctl documents, for editors."""
    if output == "yaml":
        click.echo(render_yaml([document_schema()]), nl=False)
    else:
        click.echo(json.dumps(document_schema(), indent=2))


@main.command()
@click.option(
    "-d",
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one YAML file per CRD into this directory (e.g. crds/) instead of printing.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="YAML documents, or one JSON List (both for kubectl apply -f -).",
)
def crds(directory: Path | None, output: str) -> None:
    """Print the CustomResourceDefinitions of Camera, Stream and Recording, for kubectl."""
    from controller.api.crd import crds as definitions
    from controller.api.crd import files, render_all

    if directory is not None and output == "json":
        raise click.UsageError("-d writes YAML files; -o json prints one JSON List instead")
    if output == "json":
        click.echo(to_json({"apiVersion": "v1", "kind": "List", "items": definitions()}))
    elif directory is None:
        click.echo(render_all(), nl=False)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files().items():
            (directory / name).write_text(text, encoding="utf-8")
            click.echo(f"wrote {directory / name}", err=True)


@main.command()
@click.option(
    "--suggest",
    is_flag=True,
    help="Print a Camera and a Stream (in the camera's best mode) for each unclaimed device.",
)
@click.option(
    "--declared",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Documents whose Cameras claim devices (repeatable).",
)
@simulate_option
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "wide", "json"]),
    default="text",
    show_default=True,
    help="wide adds each camera's modes; json has every fact and mode.",
)
def devices(
    suggest: bool, declared: tuple[Path, ...], simulate_devices: Path | None, output: str
) -> None:
    """List V4L2 capture devices (udev) with their modes, and which Camera claims each."""
    found = _devices(simulate_devices)
    claimed = _claims(load(declared), found) if declared else {}
    if suggest:
        unclaimed = [d for d in found if d.node not in claimed]
        click.echo(render_yaml(suggested_documents(unclaimed)), nl=False)
    elif output == "json":
        click.echo(to_json([d.model_dump(mode="json", by_alias=True) for d in found]))
    else:
        click.echo(devices_table(found, claimed, wide=output == "wide"))


@main.command()
@controller_options
@output_option
def plan(**options: Any) -> None:
    """Show what apply would change; exit 0 converged, 1 error, 2 changes pending,
    3 nothing to write but some resources cannot be served."""
    outcome, result = _reconcile(options, dry_run=True)
    plan = outcome.plan
    cannot = blocked(outcome.statuses)
    failed = bool(result.errors) or outcome.observed.error is not None
    pending = bool(plan.actions or plan.withheld)
    if options["output"] == "json":
        click.echo(
            to_json(
                {
                    "converged": not (failed or pending or cannot),
                    "actions": [action_json(a) for a in plan.actions],
                    "withheld": [withheld_json(w) for w in plan.withheld],
                    "blocked": cannot,
                    "notes": plan.notes,
                    "errors": _errors(result, outcome),
                }
            )
        )
    else:
        _print_errors(result, outcome)
        if outcome.observed.error is None:
            click.echo(plan_text(plan, cannot))
    code = EXIT_ERROR if failed else EXIT_PENDING if pending else EXIT_BLOCKED if cannot else 0
    sys.exit(code)


@main.command()
@controller_options
@output_option
def apply(**options: Any) -> None:
    """Converge MediaMTX once, then print each action and every resource's status; exit as
    plan does, for what is left: 0 all served, 1 error or a resource that needs a person,
    2 removals withheld, 3 some resources cannot be served (a camera unplugged)."""
    outcome, result = _reconcile(options, dry_run=False)
    withheld, cannot = outcome.plan.withheld, blocked(outcome.statuses)
    if options["output"] == "json":
        click.echo(
            to_json(
                {
                    "actions": [action_json(r.action, r.error) for r in outcome.results],
                    "withheld": [withheld_json(w) for w in withheld],
                    "blocked": cannot,
                    "notes": outcome.plan.notes,
                    "errors": _errors(result, outcome),
                    "resources": status_json(outcome.statuses),
                }
            )
        )
    else:
        _print_errors(result, outcome)
        for r in outcome.results:
            mark = "failed: " + r.error if r.error else "ok"
            click.echo(f"{r.action.op} {r.action.path}: {mark}")
        for w in withheld:
            click.echo(f"= withheld: {w.action.op} {w.action.path}: {w.message}")
        for note in outcome.plan.notes:
            click.echo(f"! {note}")
        if outcome.observed.error is None and not outcome.failed:
            done = "Applied. " if outcome.results else ""
            click.echo(done + plan_summary([], len(withheld), len(cannot)))
        click.echo(status_table(outcome.statuses))
    failed = result.errors or outcome.failed or outcome.observed.error or _stalled(outcome)
    sys.exit(EXIT_ERROR if failed else EXIT_PENDING if withheld else EXIT_BLOCKED if cannot else 0)


@main.command()
@functools.partial(controller_options, paths_required=False)  # none with --kubernetes
@click.option(
    "--resync", type=float, default=30.0, show_default=True, help="Seconds between full passes."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--kubernetes",
    is_flag=True,
    envvar="CAMCTL_KUBERNETES",
    help="Read Camera/Stream/Recording custom resources (kopf) instead of PATHS; "
    "write their status, Events and finalizers.",
)
@click.option(
    "--namespace",
    envvar="CAMCTL_NAMESPACE",
    help="With --kubernetes: watch only this namespace [default: all namespaces].",
)
@click.option(
    "--claim-unassigned",
    is_flag=True,
    envvar="CAMCTL_CLAIM_UNASSIGNED",
    help="With --kubernetes: also own Cameras without spec.node (one camctl per cluster only).",
)
@click.option(
    "--read-secrets",
    is_flag=True,
    envvar="CAMCTL_READ_SECRETS",
    help="With --kubernetes: read the Secrets network Cameras name (spec.credentials.secretRef); "
    "needs get/list/watch on Secrets (manifests/components/camera-secrets).",
)
@click.option(
    "--view",
    "view_address",
    metavar="HOST:PORT",
    envvar="CAMCTL_VIEW",
    help="Serve the read-only JSON-RPC view, /metrics and the dashboard (e.g. 127.0.0.1:9990).",
)
@click.option(
    "--playback-port",
    type=click.IntRange(1, 65535),
    default=9996,
    show_default=True,
    envvar="CAMCTL_PLAYBACK_PORT",
    help="MediaMTX's playback server, on --public-host: where the view's segment links go.",
)
@click.option(
    "--view-token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CAMCTL_VIEW_TOKEN_FILE",
    help="Bearer tokens of the view, one a line, re-read when changed; needed unless on loopback.",
)
def run(resync: float, log_format: str, **options: Any) -> None:
    """Keep MediaMTX converged: react to edits, hotplug and MediaMTX restarts until stopped."""
    from controller import logs, wiring
    from controller.reconcile.loop import Timing
    from controller.view.errors import ViewError

    if options["kubernetes"] == bool(options["paths"]):
        raise click.UsageError("give PATHS, or --kubernetes (not both)")
    if options["read_secrets"] and not options["kubernetes"]:
        raise click.UsageError("--read-secrets goes with --kubernetes")
    _check_start(options)
    logs.setup(log_format)
    what = wiring.Run(
        settings=replace(_settings(options), playback_port=options["playback_port"]),
        state_dir=options["state_dir"] or default_state_dir(),
        mediamtx=options["mediamtx"],
        timing=Timing(resync=resync),
        paths=options["paths"],
        follow_links=options["follow_links"],
        kubernetes=options["kubernetes"],
        namespace=options["namespace"],
        claim_unassigned=options["claim_unassigned"],
        simulated_devices=options["simulate_devices"],
        view_address=options["view_address"],
        view_token_file=options["view_token_file"],
        read_secrets=options["read_secrets"],
    )
    try:
        _refuse_if_in_use(what.state_dir)
        asyncio.run(_until_signalled(what))
    except (InventoryError, ViewError) as exc:
        raise click.ClickException(str(exc)) from exc


def _refuse_if_in_use(state_dir: Path) -> None:
    """Another camctl writing this state directory: refuse at once. A damaged directory is
    not refused: the controller stays up, says so in health and carries on once mended."""
    inventory = Inventory(state_dir)
    try:
        inventory.acquire()
    except InventoryInUse:
        raise
    except InventoryError as exc:
        logging.getLogger("camctl").error("%s", exc)
    finally:
        inventory.release()


async def _until_signalled(what: Any) -> None:
    from controller import wiring

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await wiring.run(what, stop)


@main.command()
@click.option(
    "--state-dir",
    envvar="CAMCTL_STATE_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The running controller's state directory [default: ~/.local/state/camctl].",
)
@click.option("-o", "--output", type=click.Choice(["text", "wide", "json", "yaml"]), default="text")
@click.option(
    "--server",
    envvar="CAMCTL_VIEW_URL",
    help="Ask a running view (camctl run --view) instead, e.g. http://127.0.0.1:9990.",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CAMCTL_VIEW_TOKEN_FILE",
    help="With --server: a file whose first line is a view token (or CAMCTL_VIEW_TOKEN).",
)
def status(
    state_dir: Path | None, output: str, server: str | None, token_file: Path | None
) -> None:
    """Every resource's conditions, and the controller's health, as the controller wrote them."""
    from controller.sinks.statusfiles import StatusStore

    if server:
        from controller.view.commands import status_from_server

        status_from_server(server, token_file, output)
        return
    controller, resources = StatusStore(state_dir or default_state_dir()).read()
    if controller is None and output not in ("json", "yaml"):
        raise click.ClickException("no status yet: is `camctl run` running with this --state-dir?")
    click.echo(status_report(controller, resources, output))


@main.command()
@click.option(
    "--live/--once",
    default=True,
    show_default=True,
    help="After apply and plan, keep converging on edits of examples/ until Ctrl-C.",
)
@click.option(
    "--view",
    "view_address",
    metavar="HOST:PORT",
    is_flag=False,
    flag_value=DEFAULT_VIEW_ADDRESS,
    help=f"Also serve the view and dashboard (--view alone: {DEFAULT_VIEW_ADDRESS}).",
)
@click.option(
    "--emulator-only",
    is_flag=True,
    help="Only serve the MediaMTX emulator (Control API at --port, playback at "
    "--playback-port) for camctl commands of your own, until Ctrl-C.",
)
@click.option(
    "--scenario",
    type=click.Choice(SCENARIO_NAMES),
    help="Play one failure, narrated: what happens, what camctl does, and why "
    "(docs/uat/demo-scenarios.md).",
)
@click.option("--port", type=int, default=9997, show_default=True, help="With --emulator-only.")
@click.option(
    "--playback-port", type=int, default=9996, show_default=True, help="With --emulator-only."
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "yaml"]),
    default="text",
    help="text only: the demo is interactive.",
)
def demo(
    live: bool,
    view_address: str | None,
    emulator_only: bool,
    scenario: str | None,
    port: int,
    playback_port: int,
    output: str,
) -> None:
    """Apply examples/ to a MediaMTX emulator with simulated cameras, offline."""
    from controller.testing.demo import run_demo, serve_emulator

    if output != "text":
        raise click.UsageError(
            f"camctl demo is interactive and prints text only, not {output}: the commands it "
            f"runs and prints take -o {output}"
        )
    if emulator_only:
        serve_emulator("127.0.0.1", port, playback_port)
        return
    if scenario:
        from controller.testing.scenarios import play

        sys.exit(play(scenario))
    sys.exit(run_demo(main, live=live, view=view_address))


main.add_command(get_command, "get")
main.add_command(recordings_command, "recordings")


# --- helpers -------------------------------------------------------------------------


def _devices(simulate: Path | None) -> list[Device]:
    from controller.observe import v4l2

    try:
        return v4l2.load_simulated(simulate) if simulate else v4l2.enumerate_devices()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _claims(result: LoadResult, found: Sequence[Device]) -> dict[str, Ref]:
    claims: dict[str, Ref] = {}
    for key, cam in result.desired.cameras.items():
        match = cam.spec.match
        hits = [d for d in found if match is not None and match.matches(d)]
        if len(hits) == 1:
            claims.setdefault(hits[0].node, key)
    return claims


def _settings(options: dict[str, Any]) -> Settings:
    return Settings(
        node_name=options["node_name"],
        device_link=options["device_link"],
        public_host=options["public_host"] or urlsplit(options["mediamtx"]).hostname or "127.0.0.1",
        allow_empty=options["allow_empty"],
        recordings_roots=options["recordings_roots"] or (DEFAULT_RECORDINGS_ROOT,),
        disk_low_percent=options["disk_low_percent"],
        credentials_roots=options["credentials_roots"] or _default_credentials_roots(),
    )


def _default_credentials_roots() -> tuple[str, ...]:
    """/etc/camctl/credentials, and the folder systemd's LoadCredential= fills, if any."""
    systemd = os.environ.get("CREDENTIALS_DIRECTORY")
    return (DEFAULT_CREDENTIALS_ROOT, *([systemd] if systemd else []))


def _check_start(options: dict[str, Any]) -> None:
    """What would otherwise fail on every pass, forever: the MediaMTX URL and, with
    --kubernetes, the credentials. One line and exit 1 instead."""
    from controller.observe.mediamtx import check_url

    try:
        check_url(options["mediamtx"])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if options["kubernetes"]:
        import kopf

        from controller.sources.kubernetes.operator import check_login

        try:
            check_login()
        except kopf.LoginError as exc:
            raise click.ClickException(f"camctl run --kubernetes: {exc}") from exc


def _reconcile(options: dict[str, Any], *, dry_run: bool) -> tuple[Any, LoadResult]:
    """One pass for `plan` (without the state directory's lock) or `apply` (with it)."""
    from controller import wiring
    from controller.observe.mediamtx import MediaMTXClient

    source = wiring.files(options["paths"], follow_links=options["follow_links"])
    found = _devices(options["simulate_devices"])
    inventory = Inventory(options["state_dir"] or default_state_dir())

    async def once() -> tuple[Any, LoadResult]:
        async with MediaMTXClient.from_env(options["mediamtx"]) as client:
            settings = _settings(options)
            return await wiring.once(source, found, client, inventory, settings, dry_run=dry_run)

    try:
        if dry_run:
            return asyncio.run(once())
        with inventory.locked():
            return asyncio.run(once())
    except (InventoryError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _stalled(outcome: Any) -> bool:
    """A resource that needs a person (a conflict, an ambiguous match) fails the apply."""
    return any(
        c.type == "Stalled" and c.status == "True"
        for status in outcome.statuses.values()
        for c in status.conditions
    )


def _errors(result: LoadResult, outcome: Any = None) -> list[str]:
    errors = [str(e) for e in result.errors]
    if outcome is not None and outcome.observed.error:
        errors.append(outcome.observed.error)
    return errors


def _print_errors(result: LoadResult, outcome: Any = None) -> None:
    for line in _errors(result, outcome):
        click.echo(line, err=True)
