"""How plans, statuses and devices look to people (text) and to scripts (JSON).

Values that might carry credentials (source URLs) are redacted before they are shown.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML

from controller.api.conditions import find
from controller.api.device import Device
from controller.api.kinds import Ref, Status
from controller.api.modes import summary
from controller.kit.redact import redact
from controller.reconcile.plan import Action, Plan, Withheld

SYMBOLS = {"add": "+", "patch": "~", "delete": "-", "restart": "-/+"}
# What a person does about a resource that cannot be served, by its Ready reason.
FIXES = {
    "DeviceAbsent": "plug the camera in, or correct spec.match (`camctl devices` lists them)",
    "AmbiguousMatch": "make spec.match name one device (a serial or a usbPath)",
    "DeviceConflict": "give each Camera a spec.match of its own device",
    "CameraNotReady": "see its Camera",
    "CameraUnknown": "fix its Camera's document (see the errors)",
    "PathConflict": "set spec.adopt: true to take the path over, or choose another spec.path",
    "RootNotAllowed": "choose a spec.root under a --recordings-root of camctl run",
    "StreamNotReady": "see its Stream",
    "InvalidSpec": "fix the document where the message says",
    "InvalidReference": "fix the document where the message says",
    "ApplyFailed": "see why MediaMTX refused it; camctl retries",
    "CredentialsUnavailable": "make its credentials file or Secret readable, with a password",
    "Unreachable": "check the camera is on, reachable from MediaMTX's host, at spec.url, and "
    "takes its credentials",
    "ModeUnsupported": "declare a mode the camera offers (the message names the closest), "
    "or leave spec.video's input, width, height and fps out for its best mode",
    "Flapping": "check the camera's cable and hub; camctl follows it again once it stays put",
}
# Not blocked: on its way (an action is planned or held back until the documents allow, a
# network camera being connected), or nothing asks for it (pulled on demand, or unused).
UNDER_WAY = frozenset({"Reconciling", "Withheld", "Connecting", "OnDemand", "Unused"})


def blocked(statuses: Mapping[Ref, Status]) -> list[dict[str, Any]]:
    """Resources that cannot be served as declared, and what to do about each."""
    out = []
    for key, status in sorted(statuses.items()):
        ready = find(status.conditions, "Ready")
        if ready is None or ready.status == "True" or ready.reason in UNDER_WAY:
            continue
        out.append(
            {
                "kind": key.kind,
                "namespace": key.namespace,
                "name": key.name,
                "reason": ready.reason,
                "message": redact(ready.message),
                "fix": FIXES.get(ready.reason, ""),
            }
        )
    return out


def plan_text(plan: Plan, cannot: Sequence[Mapping[str, Any]] = ()) -> str:
    """The plan for people: actions, what is withheld, what cannot be served, a summary."""
    lines = []
    for action in plan.actions:
        owner = f"  ({action.stream})" if action.stream else ""
        lines.append(f"{SYMBOLS[action.op]} {action.op} {action.path}{owner}")
        if action.op == "restart":
            lines.append("    its publisher stalled: the path is deleted and added again")
        elif action.op != "delete":
            lines += [
                f"    {f}: {_change(old, new, action.op)}" for f, (old, new) in action.diff.items()
            ]
    for withheld in plan.withheld:
        action = withheld.action
        lines.append(f"= withheld: {action.op} {action.path}: {withheld.message}")
        if action.op != "delete":
            lines += [
                f"    {f}: {_change(old, new, 'patch')}" for f, (old, new) in action.diff.items()
            ]
    lines += [f"! {note}" for note in plan.notes]
    for b in cannot:
        ref = Ref(b["kind"], b["namespace"], b["name"])
        fix = f" ({b['fix']})" if b["fix"] else ""
        lines.append(f"x {ref}: {b['reason']}: {b['message']}{fix}")
    lines.append(plan_summary(plan.actions, len(plan.withheld), len(cannot)))
    return "\n".join(lines)


def _change(old: Any, new: Any, op: str) -> str:
    shown = json.dumps(redact(new))
    return shown if op == "add" else f"{json.dumps(redact(old))} -> {shown}"


def plan_summary(actions: Sequence[Action], withheld: int = 0, cannot: int = 0) -> str:
    """One line; "No changes" only when MediaMTX serves everything that is declared."""
    held = f", {withheld} withheld" if withheld else ""
    served = f"; {cannot} resource(s) cannot be served" if cannot else ""
    if actions:
        count = {op: sum(a.op == op for a in actions) for op in SYMBOLS}
        restarts = f", {count['restart']} to restart" if count["restart"] else ""
        return (
            f"Plan: {count['add']} to add, {count['patch']} to change, "
            f"{count['delete']} to delete{restarts}{held}{served}."
        )
    if withheld or cannot:
        return f"Nothing to write now{held}{served}."
    return "No changes: MediaMTX matches the declared state."


def action_json(action: Action, error: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "op": action.op,
        "path": action.path,
        "stream": str(action.stream) if action.stream else None,
        "diff": {f: {"from": redact(o), "to": redact(n)} for f, (o, n) in action.diff.items()},
    }
    if error is not None:
        out["error"] = error
    return out


def withheld_json(withheld: Withheld) -> dict[str, Any]:
    return {**action_json(withheld.action), "reason": withheld.reason, "message": withheld.message}


def status_json(statuses: Mapping[Ref, Status]) -> list[dict[str, Any]]:
    return [
        {"kind": key.kind, "namespace": key.namespace, "name": key.name, "status": _dump(status)}
        for key, status in sorted(statuses.items())
    ]


def _dump(status: Status) -> Any:
    return redact(status.model_dump(mode="json", by_alias=True, exclude_none=True))


def status_table(statuses: Mapping[Ref, Status]) -> str:
    rows = [("RESOURCE", "READY", "REASON", "MESSAGE")]
    for key, status in sorted(statuses.items()):
        ready = find(status.conditions, "Ready")
        rows.append(
            (str(key), ready.status, ready.reason, redact(ready.message))
            if ready
            else (str(key), "Unknown", "", "")
        )
    return table(rows)


def devices_table(devices: Iterable[Device], claimed: Mapping[str, Ref], wide: bool = False) -> str:
    """One row per device; `wide` adds its modes (`MJPG 1920x1080@30, …; YUYV …`)."""
    head = ("NODE", "VENDOR:PRODUCT", "SERIAL", "PRODUCT", "USB PATH", "CLAIMED BY")
    rows: list[tuple[str, ...]] = [(*head, "MODES") if wide else head]
    for d in devices:
        row = (
            d.node,
            f"{d.vendor_id or '?'}:{d.product_id or '?'}",
            d.serial or "-",
            d.product or "-",
            d.usb_path or "-",
            str(claimed[d.node]) if d.node in claimed else "-",
        )
        rows.append((*row, _modes_text(d)) if wide else row)
    return table(rows)


def _modes_text(device: Device) -> str:
    if device.modes:
        return summary(device.modes)
    return f"? ({device.modes_error})" if device.modes_error else "-"


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)


def health_text(h: Mapping[str, Any]) -> str:
    """The controller's own status (camelCase, as the view's `controller.status`), as
    `camctl status` shows it above the resources."""
    reachable = {True: "reachable", False: "UNREACHABLE", None: "unknown"}[
        h.get("mediamtxReachable")
    ]
    lines = [
        f"controller {h.get('node') or '?'}: "
        f"{h.get('passes', 0)} passes, last {h.get('lastPass') or 'never'}, "
        f"last success {h.get('lastSuccess') or 'never'}",
        f"MediaMTX {h.get('mediamtxVersion') or ''}: {reachable}".replace("  ", " "),
    ]
    lines += [f"error: {redact(e)}" for e in h.get("errors", [])]
    lines += [f"note: {n}" for n in h.get("notes", [])]
    return "\n".join(lines) + "\n"


def resources_table(resources: Iterable[Mapping[str, Any]], *, wide: bool = False) -> str:
    header = ["RESOURCE", "READY", "REASON", "SINCE", "DETAIL", "MESSAGE"]
    if wide:
        header[4:4] = ["GENERATION"]
    rows = [tuple(header)]
    for doc in resources:
        status = doc.get("status", {})
        ready: Mapping[str, Any] = next(
            (c for c in status.get("conditions", []) if c["type"] == "Ready"), {}
        )
        meta = doc.get("metadata", {})
        key = Ref(doc.get("kind", "?"), meta.get("namespace", "default"), meta.get("name", "?"))
        row = [
            str(key),
            ready.get("status", "Unknown"),
            ready.get("reason", ""),
            ready.get("lastTransitionTime", ""),
            _detail(status, wide),
            redact(ready.get("message", "")),
        ]
        if wide:
            row[4:4] = [str(status.get("observedGeneration", ""))]
        rows.append(tuple(row))
    return table(rows)


def _detail(status: Mapping[str, Any], wide: bool) -> str:
    """The one fact to see per resource: a Camera's device, a Stream's path (its URL when
    wide), a Recording's segments."""
    if (segments := status.get("segments")) is not None:
        newest = segments.get("newest")
        return f"{segments.get('count', 0)} segments" + (f", newest {newest}" if newest else "")
    if wide and (urls := status.get("urls")):
        return str(urls.get("rtsp", ""))
    if device := status.get("device"):
        return str(device.get("node") if isinstance(device, Mapping) else device)
    return str(status.get("path") or "-")


def render_yaml(documents: Sequence[Any]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump_all(documents, out)
    return out.getvalue()


def status_report(health: Mapping[str, Any] | None, resources: Sequence[Any], output: str) -> str:
    """`camctl status` as json or yaml of both, else the controller's health and a table.
    `health` has the fields of the view's `controller.status`, from a view or a file."""
    if output in ("json", "yaml"):
        document = {"controller": health, "resources": list(resources)}
        return to_json(document) if output == "json" else render_yaml([document]).rstrip("\n")
    return f"{health_text(health or {})}\n{resources_table(resources, wide=output == 'wide')}"
