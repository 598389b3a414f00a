"""`camctl get`, `camctl recordings` and `camctl status --server`: kubectl-style reading of a
running view.

The cli registers these (nothing here imports `controller.cli`). The client, and with it
aiohttp, is imported only when a command runs, so `camctl --help` stays quick.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from controller.output import (
    render_yaml,
    status_report,
    table,
    to_json,
)
from controller.view import DEFAULT_URL
from controller.view.errors import UNAUTHORIZED, RPCError

if TYPE_CHECKING:
    from controller.view.client import ViewClient


Doc = dict[str, Any]
Row = Callable[[Doc, bool], list[str]]
KINDS = {
    "cameras": ("cameras", ("camera", "cam")),
    "streams": ("streams", ("stream", "st")),
    "recordings": ("recordings", ("recording", "rec")),
    "devices": ("devices", ("device", "dev")),
    "paths": ("paths", ("path",)),
}


def _plural(kind: str) -> str:
    for plural, (_, aliases) in KINDS.items():
        if kind == plural or kind in aliases:
            return plural
    raise click.BadParameter(f"{kind!r}: one of {', '.join(KINDS)}", param_hint="KIND")


def server_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--token-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="CAMCTL_VIEW_TOKEN_FILE",
        help="A file whose first line is a view token (or set CAMCTL_VIEW_TOKEN).",
    )(func)
    return click.option(
        "--server",
        envvar="CAMCTL_VIEW_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The view of a running `camctl run --view`.",
    )(func)


@contextlib.contextmanager
def viewing(server: str, token_file: Path | None) -> Iterator[ViewClient]:
    """A client of the view at `server`; its failures as one line that says what to do."""
    from controller.view.client import TransportError, Unreachable, ViewClient, token_from

    token = token_from(token_file)
    if token_file is not None and token is None:
        raise click.ClickException(f"{token_file} holds no token (one a line; # comments)")
    try:
        client = ViewClient(server, token)
    except ValueError as exc:
        raise click.ClickException(f"{exc} (--server or CAMCTL_VIEW_URL)") from exc
    try:
        with client as view:
            yield view
    except Unreachable as exc:
        raise click.ClickException(
            f"{exc}: start it with `camctl run PATHS --view {_address(server)}`, "
            "or give the URL of a running one with --server or CAMCTL_VIEW_URL"
        ) from exc
    except TransportError as exc:
        raise click.ClickException(str(exc)) from exc
    except RPCError as exc:
        if exc.code == UNAUTHORIZED:
            raise click.ClickException(_token_advice(exc, token_file, token)) from exc
        raise _problem(exc) from exc


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _token_advice(exc: RPCError, token_file: Path | None, token: str | None) -> str:
    """Missing and wrong tokens, told apart: the server answers both alike."""
    if token is None:
        return (
            f"{exc.message}: give --token-file FILE (a line of the view's --view-token-file), "
            "or set CAMCTL_VIEW_TOKEN_FILE or CAMCTL_VIEW_TOKEN"
        )
    given = token_file if token_file is not None else "CAMCTL_VIEW_TOKEN"
    return (
        f"{exc.message}: the token from {given} is not in the view's --view-token-file "
        "(its file is re-read within a second of an edit)"
    )


def _problem(exc: Exception) -> click.ClickException:
    """The error with the fields at fault, which -32602 carries in its data."""
    data = getattr(exc, "data", None)
    details = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    text = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in details)
    return click.ClickException(f"{exc} ({text})" if text else str(exc))


def _ready(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    conditions = doc.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c.get("type") == "Ready"), {})


def _camera_row(doc: Doc, wide: bool) -> list[str]:
    ready, device = _ready(doc), doc.get("status", {}).get("device") or {}
    row = [doc["metadata"]["name"], ready.get("status", "Unknown"), ready.get("reason", "")]
    row.append(device.get("node", "-"))
    if wide:
        row += [doc["spec"].get("node") or "-", device.get("product") or "-"]
        row.append(ready.get("message", ""))
    return row


def _stream_row(doc: Doc, wide: bool) -> list[str]:
    ready, status = _ready(doc), doc.get("status", {})
    readers = status.get("readers")
    row = [doc["metadata"]["name"], ready.get("status", "Unknown"), ready.get("reason", "")]
    row += [status.get("path") or "-", "-" if readers is None else str(readers)]
    if wide:
        row += [doc["spec"].get("mode", ""), (status.get("urls") or {}).get("rtsp", "-")]
        row += [status.get("device") or "-"]
    return row


def _recording_row(doc: Doc, wide: bool) -> list[str]:
    ready, spec = _ready(doc), doc["spec"]
    segments = doc.get("status", {}).get("segments") or {}
    row = [doc["metadata"]["name"], ready.get("status", "Unknown"), ready.get("reason", "")]
    row += [spec["stream"], spec.get("retention", "")]
    row += [str(segments.get("count", "-")), segments.get("newest") or "-"]
    if wide:
        row += [spec.get("format", ""), spec.get("segmentDuration", ""), str(spec.get("enabled"))]
    return row


def _device_row(doc: Doc, wide: bool) -> list[str]:
    row = [doc["node"], f"{doc.get('vendorId') or '?'}:{doc.get('productId') or '?'}"]
    row += [doc.get("serial") or "-", doc.get("product") or "-", doc.get("claimedBy") or "-"]
    if wide:
        row += [doc.get("usbPath") or "-", ",".join(doc.get("formats", [])) or "-"]
    return row


def _path_row(doc: Doc, wide: bool) -> list[str]:
    readers = doc.get("readers")
    row = [doc["name"], "yes" if doc["owned"] else "no", doc.get("stream") or "-"]
    row += [str(doc.get("ready")), "-" if readers is None else str(readers)]
    if wide:
        row += [doc.get("source") or "-", str(doc.get("record"))]
    return row


TABLES: dict[str, tuple[list[str], list[str], Row]] = {
    "cameras": (["NAME", "READY", "REASON", "DEVICE"], ["NODE", "PRODUCT", "MESSAGE"], _camera_row),
    "streams": (["NAME", "READY", "REASON", "PATH", "READERS"], ["MODE", "RTSP", "DEVICE"],
                _stream_row),
    "recordings": (["NAME", "READY", "REASON", "STREAM", "RETENTION", "SEGMENTS", "NEWEST"],
                   ["FORMAT", "SEGMENT", "ENABLED"], _recording_row),
    "devices": (["NODE", "VENDOR:PRODUCT", "SERIAL", "PRODUCT", "CLAIMED BY"],
                ["USB PATH", "FORMATS"], _device_row),
    "paths": (["NAME", "OWNED", "STREAM", "READY", "READERS"], ["SOURCE", "RECORD"], _path_row),
}  # fmt: skip


def render(plural: str, items: Sequence[Doc], output: str) -> str:
    if output == "json":
        return to_json(list(items))
    if output == "yaml":
        return render_yaml([list(items)]).rstrip("\n")
    head, extra, row = TABLES[plural]
    wide = output == "wide"
    rows = [[*head, *(extra if wide else [])], *(row(i, wide) for i in items)]
    return table(rows)


def fetch(view: ViewClient, plural: str, name: str | None, filters: dict[str, Any]) -> list[Doc]:
    if name is not None:
        if plural in ("devices", "paths"):
            key = "node" if plural == "devices" else "name"
            found = [i for i in fetch(view, plural, None, {}) if i[key] == name]
            if not found:
                raise click.ClickException(f"{plural[:-1]} {name!r} not found")
            return found
        params = {"name": name, "namespace": filters.get("namespace") or "default"}
        return [view.call(f"{plural}.get", params)]
    items: list[Doc] = []
    token = None
    params = {k: v for k, v in filters.items() if v is not None}
    if plural in ("devices", "paths"):
        params = {}
    while True:
        page = view.call(f"{plural}.list", params | ({"continue": token} if token else {}))
        items += page["items"]
        token = page.get("continue")
        if not token:
            return items


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Choice(["text", "wide", "json", "yaml"]), default="text")
@click.option("-l", "--selector", help="Label selector, e.g. site=home,zone!=garage.")
@click.option("-n", "--namespace", help="Only this namespace.")
@click.option("--node", help="Only resources whose Camera has this spec.node.")
@server_options
def get(
    kind: str,
    name: str | None,
    output: str,
    selector: str | None,
    namespace: str | None,
    node: str | None,
    server: str,
    token_file: Path | None,
) -> None:
    """Show cameras, streams, recordings, devices or paths from a running view."""
    plural = _plural(kind)
    filters = {"labelSelector": selector, "namespace": namespace, "node": node}
    with viewing(server, token_file) as view:
        items = fetch(view, plural, name, filters)
    if output == "json" and name is not None:
        click.echo(to_json(items[0]))
    else:
        click.echo(render(plural, items, output))


@click.command()
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--since", help="RFC 3339: only segments that end after this.")
@click.option("--until", help="RFC 3339: only segments that start before this.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, help="Skip this many, newest first.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@server_options
def recordings(
    name: str,
    namespace: str,
    since: str | None,
    until: str | None,
    limit: int,
    offset: int,
    output: str,
    server: str,
    token_file: Path | None,
) -> None:
    """A Recording's segments on disk, newest first, with MediaMTX playback URLs."""
    params: Doc = {"name": name, "namespace": namespace, "since": since, "until": until}
    params |= {"limit": limit, "offset": offset}
    with viewing(server, token_file) as view:
        page = view.call("recordings.segments", params)
    if output == "json":
        click.echo(to_json(page))
        return
    head = ["START", "DURATION", "SIZE", "FILE", "URL"]
    click.echo(table([head, *(_segment_row(item) for item in page["items"])]))
    shown = f"{offset + 1}-{offset + len(page['items'])}" if page["items"] else "none"
    click.echo(f"{shown} of {page['total']} in {page['directory'] or '-'}", err=True)


def _segment_row(item: Doc) -> list[str]:
    size = "?" if item["size"] is None else _size(item["size"])  # listed by MediaMTX only
    return [item["start"], f"{item['duration']:g}s", size, item["file"] or "-", item["url"]]


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}TB"


def status_from_server(server: str, token_file: Path | None, output: str) -> None:
    """`camctl status --server URL`: what `camctl status` shows, read from a view."""
    with viewing(server, token_file) as view:
        health = view.call("controller.status")
        resources: list[Doc] = []
        for plural in ("cameras", "streams", "recordings"):
            resources += fetch(view, plural, None, {})
    click.echo(status_report(health, resources, output))
    sys.stdout.flush()
