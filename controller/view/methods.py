"""camctl's own read-only methods: resources, recorded segments, devices, paths, plan,
controller, events.

Each handler is a pure function of the snapshot and its validated parameters; it returns
JSON-ready data that the dispatcher serialises (and caches per snapshot version).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from bisect import bisect_right
from collections.abc import Callable, Sequence

from controller.api.conditions import now
from controller.api.kinds import KINDS, Ref
from controller.output import action_json, withheld_json
from controller.reconcile.plan import plan
from controller.view import errors, selectors
from controller.view.errors import RPCError
from controller.view.events import Filter
from controller.view.models import (
    CameraList,
    ControllerStatus,
    DeviceList,
    EventList,
    EventsListParams,
    GetParams,
    ListParams,
    NoParams,
    PageParams,
    PathList,
    PathListParams,
    PlanResult,
    RecordingList,
    SegmentPage,
    SegmentsParams,
    StreamList,
    Subscribed,
    SubscribeParams,
    UnsubscribeParams,
)
from controller.view.rpc import Context, Method
from controller.view.snapshot import Doc, Snapshot, ref_of

KindLists = {"Camera": CameraList, "Stream": StreamList, "Recording": RecordingList}
PLURAL = {"Camera": "cameras", "Stream": "streams", "Recording": "recordings"}


# --- paging --------------------------------------------------------------------------


def page(
    items: Sequence[Doc], key: Callable[[Doc], list[str]], params: PageParams, version: int
) -> Doc:
    """One page of `items` (sorted by `key`), after the item the `continue` token names."""
    start = 0
    if params.continue_ is not None:
        after = _decode(params.continue_)
        start = bisect_right([key(i) for i in items], after)
    chunk = items[start : start + params.limit]
    more = start + params.limit < len(items)
    return {
        "items": list(chunk),
        "total": len(items),
        "continue": _encode(key(chunk[-1])) if more and chunk else None,
        "version": version,
    }


def _encode(key: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode(token: str) -> list[str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise RPCError(errors.INVALID_PARAMS, "continue: not a token this view gave out")
    return key


def _resource_key(doc: Doc) -> list[str]:
    return [doc["metadata"]["namespace"], doc["metadata"]["name"]]


# --- resources -----------------------------------------------------------------------


def _lister(kind: str) -> Callable[[Context, ListParams], Doc]:
    def handler(ctx: Context, params: ListParams) -> Doc:
        snap = ctx.snapshot
        wanted = selectors.parse(params.label_selector) if params.label_selector else None
        items = [
            d
            for d in snap.docs[kind]
            if (params.namespace is None or d["metadata"]["namespace"] == params.namespace)
            and (wanted is None or wanted.matches(d["metadata"].get("labels", {})))
            and (params.node is None or snap.nodes.get(ref_of(d)) == params.node)
        ]
        return page(items, _resource_key, params, snap.version)

    return handler


def _getter(kind: str) -> Callable[[Context, GetParams], Doc]:
    def handler(ctx: Context, params: GetParams) -> Doc:
        return _found(ctx.snapshot, Ref(kind, params.namespace, params.name))

    return handler


def _found(snap: Snapshot, key: Ref) -> Doc:
    doc = snap.by_ref.get(key)
    if doc is None:
        data = {"kind": key.kind, "namespace": key.namespace, "name": key.name}
        raise RPCError(errors.NOT_FOUND, f"{key.kind} {key.name!r} not found", data)
    return doc


def _segments(ctx: Context, params: SegmentsParams) -> Doc:
    """One Recording's segments, newest first, from the last pass's scan (no I/O)."""
    key = Ref("Recording", params.namespace, params.name)
    doc = _found(ctx.snapshot, key)
    recorded = ctx.snapshot.recorded
    items, total = recorded.page(key, params.since, params.until, params.limit, params.offset)
    files = recorded.files.get(key)
    directory = doc.get("status", {}).get("directory") or (
        f"{files.root.rstrip('/')}/{files.path}" if files else None
    )
    return {
        "items": items,
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
        "directory": directory,
    }


# --- devices, paths, plan, controller --------------------------------------------------


def _devices(ctx: Context, params: PageParams) -> Doc:
    return page(ctx.snapshot.devices, lambda d: [d["node"]], params, ctx.snapshot.version)


def _paths(ctx: Context, params: PathListParams) -> Doc:
    items = [p for p in ctx.snapshot.paths if params.owned is None or p["owned"] == params.owned]
    return page(items, lambda p: [p["name"]], params, ctx.snapshot.version)


def _plan(ctx: Context, params: NoParams) -> Doc:
    """What the next pass would do, replanned from the last pass's snapshots: no I/O."""
    snap, inputs = ctx.snapshot, ctx.snapshot.planning
    if inputs is None:
        return _plan_answer(snap, [], ["no pass has run yet"], reachable=False)
    result = plan(
        inputs.desired,
        inputs.devices,
        inputs.paths,
        inputs.owned,
        inputs.settings,
        now(),
        inputs.statuses,
        inputs.runtime,
        credentials=inputs.credentials,
    )
    notes = list(result.notes)
    if inputs.paths is None:
        notes.append("MediaMTX could not be read in the last pass: nothing would be done")
    actions = [action_json(a) for a in result.actions]
    withheld = [withheld_json(w) for w in result.withheld]
    return _plan_answer(snap, actions, notes, reachable=inputs.paths is not None, withheld=withheld)


def _plan_answer(
    snap: Snapshot,
    actions: list[Doc],
    notes: list[str],
    *,
    reachable: bool,
    withheld: list[Doc] | None = None,
) -> Doc:
    return {
        "converged": not actions and not withheld,
        "actions": actions,
        "withheld": withheld or [],
        "notes": notes,
        "mediamtxReachable": reachable,
        "version": snap.version,
        "basedOn": snap.controller.get("lastPass"),
    }


def _controller(ctx: Context, params: NoParams) -> Doc:
    snap = ctx.snapshot
    base = snap.controller or {
        "node": None,
        "started": "",
        "passes": 0,
        "resources": {k: 0 for k in PLURAL},
        "notReady": 0,
    }
    return base | {
        "ready": snap.ready,
        "version": snap.version,
        "connections": len(ctx.state.listeners),
    }


# --- events --------------------------------------------------------------------------


def _events(ctx: Context, params: EventsListParams) -> Doc:
    log = ctx.state.log
    events = [e.data for e in itertools.islice(log.since(params.since), params.limit)]
    return {"events": events, "latest": log.latest, "oldest": log.oldest}


def _subscribe(ctx: Context, params: SubscribeParams) -> Doc:
    """A session over HTTP refuses: subscriptions need the WebSocket."""
    wanted = Filter(
        kinds=frozenset(params.kinds) if params.kinds else None,
        namespace=params.namespace,
        selector=selectors.parse(params.label_selector) if params.label_selector else None,
    )
    return {"subscription": ctx.session.subscribe(wanted)}


def _unsubscribe(ctx: Context, params: UnsubscribeParams) -> bool:
    return ctx.session.unsubscribe(params.subscription)


# --- the table -----------------------------------------------------------------------


def methods() -> list[Method]:
    out: list[Method] = []
    for kind, plural in PLURAL.items():
        out.append(
            Method(
                f"{plural}.list",
                f"{kind}s with their status, filtered and paged",
                ListParams,
                KindLists[kind],
                _lister(kind),
            )
        )
        out.append(
            Method(
                f"{plural}.get",
                f"One {kind} with its status",
                GetParams,
                KINDS[kind],
                _getter(kind),
                errors=(errors.NOT_FOUND,),
            )
        )
    out += [
        Method("recordings.segments", "One Recording's segments on disk, newest first, with "
               "playback URLs", SegmentsParams, SegmentPage, _segments, errors=(errors.NOT_FOUND,)),
        Method("devices.list", "V4L2 capture devices seen, claimed or not", PageParams,
               DeviceList, _devices),
        Method("paths.list", "MediaMTX's paths, owned by camctl or not", PathListParams,
               PathList, _paths),
        Method("plan.get", "What the next pass would do, from the last pass's snapshots",
               NoParams, PlanResult, _plan),
        Method("controller.status", "The controller's health and the view's", NoParams,
               ControllerStatus, _controller, cacheable=False),
        Method("events.list", "Recent changes, oldest first", EventsListParams, EventList,
               _events),
        Method("events.subscribe", "WebSocket only: get `events.event` notifications",
               SubscribeParams, Subscribed, _subscribe, cacheable=False,
               errors=(errors.NEEDS_WEBSOCKET, errors.LIMIT_EXCEEDED)),
        Method("events.unsubscribe", "WebSocket only: stop a subscription", UnsubscribeParams,
               bool, _unsubscribe, cacheable=False, errors=(errors.NEEDS_WEBSOCKET,)),
    ]  # fmt: skip
    return out
