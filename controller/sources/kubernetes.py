"""Desired state from Kubernetes: Camera, Stream and Recording custom resources, via kopf.

kopf only *watches* the three kinds (an index and an event handler per kind; no change
handlers, so kopf never writes to them) into an in-memory store and wakes the controller.
`load()` turns the store into the same `LoadResult` files produce, through `assemble`, so
the planner and the loop are shared with file mode. The same object is the controller's
status sink: after each pass it patches the status subresource of the objects this node
owns (only when it changed), posts Events for MediaMTX writes and condition changes, and
keeps a per-node finalizer on Streams until their MediaMTX path is gone.

Ownership: a node's controller owns the Cameras whose `spec.node` is its node (and, with
`claim_unassigned`, those naming no node), the Streams of those Cameras and the Recordings
of those Streams; a Stream whose Camera is gone stays with the node still holding its path.
Controllers on different nodes never write the same object, so kopf runs standalone.

Safety, as with files: nothing is planned before kopf has listed every kind once, or a
list of our own found nothing at all (until then every owned path is held); an object whose
spec fails validation keeps its last valid spec in force, or, without one, holds its path;
it is reported in its status and an Event. Secrets (credentials in URLs) are masked in
everything written to the API.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import logging
import re
import signal
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import kopf
from pydantic import ValidationError

from controller.api.conditions import Condition, condition, find, merge_conditions
from controller.api.desired import AnyResource, Desired, Problem, assemble
from controller.api.kinds import (
    API_VERSION,
    GROUP,
    KINDS,
    PLURALS,
    VERSION,
    Ref,
    Status,
    Stream,
    parse_resource,
)
from controller.reconcile.apply import Outcome, Result
from controller.reconcile.inventory import Inventory
from controller.sources.files import LoadError, LoadResult

log = logging.getLogger("camctl.kubernetes")

FINALIZER_DOMAIN = "paths.camctl.dev"
COMPONENT = "camctl"
EVENT_REASONS = {"add": "PathAdded", "patch": "PathUpdated", "delete": "PathDeleted"}
MERGE_PATCH = "application/merge-patch+json"
# Counters that move with the video: written along with any other change, and on their own
# at most this often, so that live streams do not make the API server churn.
COUNTERS = frozenset({"readers", "bytesReceived"})
COUNTER_INTERVAL = 300.0
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]*@")

Login = Callable[..., "kopf.ConnectionInfo | None"]


def default_login(**kwargs: Any) -> kopf.ConnectionInfo:
    """In a pod, its service account; elsewhere, the current kubeconfig context."""
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError("no service account token and no kubeconfig to log in with")
    return info


def redact(text: str) -> str:
    """Mask `user:password@` in URLs: secrets never reach statuses or Events."""
    return _CREDENTIALS.sub("***@", text)


def finalizer_for(node: str) -> str:
    """`paths.camctl.dev/NODE`: says which node's MediaMTX still holds the path."""
    if len(node) > 63:  # a finalizer's name part is at most 63 characters
        node = f"{node[:54]}-{hashlib.sha256(node.encode()).hexdigest()[:8]}"
    return f"{FINALIZER_DOMAIN}/{node}"


def origin_of(key: Ref) -> str:
    """The source name of one object, as the planner's `held` and the inventory know it."""
    return f"kubernetes:{key.kind}/{key.namespace}/{key.name}"


@dataclass(frozen=True)
class ObjectError(LoadError):
    """A problem of one object: `Stream/front-door: spec.video.fps: message`."""

    def __str__(self) -> str:
        return ": ".join(p for p in (self.subject, self.field, self.message) if p)


def _object_error(key: Ref, where: str, message: str) -> ObjectError:
    return ObjectError(origin_of(key), 0, 0, str(key), where, message)


# --- The store -----------------------------------------------------------------------


@dataclass
class Entry:
    """One object as last seen: its raw body and its spec, parsed (None when invalid)."""

    key: Ref
    body: dict[str, Any]
    resource: AnyResource | None
    errors: list[tuple[str, str]]  # (field, message) of the current spec
    seen: float = field(default_factory=time.monotonic)

    @property
    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.body.get("metadata") or {}
        return meta

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def status(self) -> dict[str, Any]:
        status = self.body.get("status")
        return status if isinstance(status, dict) else {}

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    @property
    def finalizers(self) -> list[str]:
        return list(self.meta.get("finalizers") or [])

    @property
    def essence(self) -> str:
        """What the planner depends on: everything but status and bookkeeping."""
        keep = ("labels", "annotations", "generation", "deletionTimestamp", "finalizers")
        meta = {k: self.meta.get(k) for k in keep}
        return json.dumps([meta, self.body.get("spec")], sort_keys=True, default=str)


def _key_of(kind: str, body: Mapping[str, Any]) -> Ref:
    meta = body.get("metadata") or {}
    return Ref(kind, str(meta.get("namespace") or "default"), str(meta.get("name")))


def _document(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object as a camctl document: what files hold, and nothing Kubernetes adds."""
    meta = body.get("metadata") or {}
    keep = ("name", "namespace", "labels", "annotations", "generation")
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in keep if meta.get(k) is not None},
        "spec": body.get("spec"),
    }


def _parse(body: Mapping[str, Any]) -> tuple[AnyResource | None, list[tuple[str, str]]]:
    try:
        return parse_resource(_document(body)), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"][1:])  # [0] is the union's tag
            text = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"])
            problems.append((where, text.removeprefix("Value error, ")))
        return None, problems


class Store:
    """Every Camera, Stream and Recording kopf reported, by identity; bumps a revision
    whenever something the planner depends on changes (not on status-only updates)."""

    def __init__(self) -> None:
        self.entries: dict[Ref, Entry] = {}
        self.last_good: dict[Ref, AnyResource] = {}
        self.changed: set[Ref] = set()  # changed since their event handler last ran
        self.revision = 0

    def put(self, kind: str, body: Mapping[str, Any]) -> tuple[Entry, bool]:
        """Record a body; True when its essence changed."""
        key = _key_of(kind, body)
        raw = copy.deepcopy(dict(body))
        old = self.entries.get(key)
        if old is not None and old.essence == Entry(key, raw, None, []).essence:
            old.body, old.seen = raw, time.monotonic()
            return old, False
        resource, errors = _parse(raw)
        entry = self.entries[key] = Entry(key, raw, resource, errors)
        if resource is not None:
            self.last_good[key] = resource
        self.changed.add(key)
        self.revision += 1
        return entry, True

    def drop(self, key: Ref) -> None:
        if self.entries.pop(key, None) is not None:
            self.last_good.pop(key, None)
            self.revision += 1

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for k, e in sorted(self.entries.items()) if k.kind == kind]


# --- A small Kubernetes client for the writes ----------------------------------------


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason = status, reason


class KubeUnreachable(Exception):
    """The API server did not answer (connection refused, timeout, reset)."""


class KubeAPI:
    """PATCH, POST and LIST with the credentials kopf logs in with (re-login on a 401)."""

    def __init__(self, login: Callable[[], kopf.ConnectionInfo], timeout: float = 10.0) -> None:
        self._login = login
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._server = ""

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = MERGE_PATCH
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            session = self._connect()
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": content_type} if body is not None else {}
            try:
                async with session.request(
                    method, self._server + path, data=data, headers=headers
                ) as response:
                    if response.status == 401 and attempt == 1:
                        await self.close()  # credentials expired or rotated: log in again
                        continue
                    answer = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise KubeUnreachable(f"{method} {path}: {exc or type(exc).__name__}") from exc
            if response.status >= 400:
                answer = answer if isinstance(answer, dict) else {}
                raise KubeError(
                    response.status, str(answer.get("reason")), str(answer.get("message"))
                )
            return answer if isinstance(answer, dict) else {}
        raise KubeError(401, "Unauthorized", "the credentials were refused twice")

    def _connect(self) -> aiohttp.ClientSession:
        if self._session is None:
            info = self._login()
            self._server = info.server.rstrip("/")
            tls = ssl_context(info) if self._server.startswith("https:") else None
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls if tls is not None else True),
                headers={"User-Agent": f"{COMPONENT}/kubernetes", **auth_headers(info)},
                timeout=self._timeout,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def auth_headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    """The Authorization header for the credentials kopf logged in with."""
    if info.username and info.password:
        pair = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    if info.token:
        return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"}
    return {}


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext:
    """The API server's CA, and a client certificate, from paths or (kubeconfig) data."""
    context = ssl.create_default_context(cafile=info.ca_path, cadata=_pem(info.ca_data))
    if info.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with (
        _as_file(info.certificate_path, info.certificate_data) as cert,
        _as_file(info.private_key_path, info.private_key_data) as key,
    ):
        if cert is not None and key is not None:
            context.load_cert_chain(cert, key)
    return context


def _pem(data: str | bytes | None) -> str | None:
    """PEM as given, or base64 of it as kubeconfig files hold it."""
    if data is None:
        return None
    text = data.decode() if isinstance(data, bytes) else data
    return text if text.lstrip().startswith("-----BEGIN") else base64.b64decode(text).decode()


@contextlib.contextmanager
def _as_file(path: Any, data: str | bytes | None) -> Iterator[Any]:
    """A path to the certificate or key: the one given, or a short-lived file of the data
    (Python's ssl reads them from files only)."""
    if path is not None or data is None:
        yield path
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as file:
        file.write(_pem(data) or "")
        file.flush()
        yield file.name


def object_path(key: Ref, subresource: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{key.namespace}/{PLURALS[key.kind]}/{key.name}"
    return f"{base}/{subresource}" if subresource else base


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        if key not in old or old[key] != value:
            patch[key] = merge_patch(old.get(key), value)
    return patch


# --- The source and sink -------------------------------------------------------------


class _HasOutcome(Protocol):
    outcome: Outcome | None


@dataclass
class _View:
    """What one `load()` decided, kept for the `publish()` that ends the same pass."""

    complete: bool = False  # made from a whole store (after kopf listed every kind)
    mine: dict[Ref, Entry] = field(default_factory=dict)
    invalid: dict[Ref, list[tuple[str, str]]] = field(default_factory=dict)
    problems: dict[Ref, list[Problem]] = field(default_factory=dict)


class KubernetesSource:
    """Custom resources in, statuses, Events and finalizers out (see the module docstring)."""

    def __init__(
        self,
        inventory: Inventory,
        node_name: str,
        namespace: str | None = None,
        *,
        claim_unassigned: bool = False,
        login: Login = default_login,
        stop: Callable[[], None] | None = None,
        relist_interval: float = 300.0,
        first_list_after: float = 5.0,
        conflict_retry: float = 0.5,
        unreachable_retry: float = 5.0,
    ) -> None:
        self.inventory, self.node_name, self.namespace = inventory, node_name, namespace
        self.claim_unassigned = claim_unassigned
        self.finalizer = finalizer_for(node_name)
        self.settings = operator_settings()
        self.store = Store()
        self.synced = False
        self.relist_interval, self.first_list_after = relist_interval, first_list_after
        self.conflict_retry, self.unreachable_retry = conflict_retry, unreachable_retry
        self.api = KubeAPI(lambda: self._login_now())
        self._login, self._stop = login, stop
        self._notify: Callable[[str], None] = lambda _: None
        self._view = _View()
        self._targets: dict[Ref, dict[str, Any]] = {}
        self._written_at: dict[Ref, float] = {}
        self._controller: _HasOutcome | None = None
        self._published: Outcome | None = None
        self._api_error: str | None = None  # the last writes failed
        self._list_error: str | None = None  # the last list of our own failed

    def attach(self, controller: _HasOutcome) -> None:
        """Let `publish` see the pass's actions, for the Events it posts about them."""
        self._controller = controller

    # --- DesiredSource ---------------------------------------------------------------

    @property
    def fingerprint(self) -> Hashable:
        return (self.synced, self.store.revision)

    def load(self) -> LoadResult:
        owned = self.inventory.load()
        sources = {owner.source for owner in owned.values()}
        if not self.synced:  # nothing is known yet: hold every path this node owns
            return LoadResult(Desired(held=frozenset(sources)), self._api_errors())
        view = self._view = _View(complete=True, mine=self._mine(sources))
        pairs, held, invalid, errors = [], set(), [], self._api_errors()
        for key, entry in view.mine.items():
            if entry.deleting:
                continue  # its path goes; the finalizer waits for that
            resource = entry.resource or self.store.last_good.get(key)
            if entry.errors:
                view.invalid[key] = entry.errors
                note = "; its last valid spec stays in force" if resource is not None else ""
                errors += [_object_error(key, f, m + note) for f, m in entry.errors]
            if resource is None:
                held.add(origin_of(key))
                invalid.append(key)
            else:
                pairs.append((resource, origin_of(key)))
        desired, problems = assemble(pairs, held, invalid)
        for problem in problems:
            view.problems.setdefault(problem.ref, []).append(problem)
            errors.append(_object_error(problem.ref, problem.field, problem.message))
        return LoadResult(desired, errors, [])

    def _api_errors(self) -> list[LoadError]:
        errors = {self._api_error, self._list_error} - {None}
        return [ObjectError("kubernetes", 0, 0, "Kubernetes API", "", str(e)) for e in errors]

    def _mine(self, sources: set[str]) -> dict[Ref, Entry]:
        """The objects this node's controller owns (see the module docstring)."""
        mine = {e.key: e for e in self.store.of_kind("Camera") if self._claims(e)}
        for entry in self.store.of_kind("Stream"):
            camera = Ref("Camera", entry.key.namespace, str(entry.spec.get("camera")))
            if camera in self.store.entries:
                owned = camera in mine
            else:  # its Camera is gone: the node that holds its path keeps it
                owned = origin_of(entry.key) in sources
            if owned:
                mine[entry.key] = entry
        for entry in self.store.of_kind("Recording"):
            if Ref("Stream", entry.key.namespace, str(entry.spec.get("stream"))) in mine:
                mine[entry.key] = entry
        return mine

    def _claims(self, camera: Entry) -> bool:
        node = camera.spec.get("node")
        if isinstance(node, str):
            return node == self.node_name
        return self.claim_unassigned

    async def watch(self, notify: Callable[[str], None]) -> None:
        """Run kopf until cancelled; the controller is woken on every relevant change."""
        self._notify = notify
        for name in ("kopf", "aiohttp.access"):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.WARNING)  # per-event INFO lines
        existing = asyncio.all_tasks()
        tasks = await kopf.spawn_tasks(
            registry=self._registry(),
            settings=self.settings,
            standalone=True,
            clusterwide=self.namespace is None,
            namespaces=[self.namespace] if self.namespace else (),
        )
        self._take_back_signals()
        relist = asyncio.create_task(self._relist_forever())
        try:
            await kopf.run_tasks(tasks, ignored=existing)
        finally:
            relist.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relist
            await self.api.close()
        if self._stop is not None:  # kopf gave up on its own: stop, and let a restart retry
            self._stop()
        raise RuntimeError("the Kubernetes watch stopped")

    def _registry(self) -> kopf.OperatorRegistry:
        registry = kopf.OperatorRegistry()

        async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
            return self._login(**kwargs)

        kopf.on.login(registry=registry)(login)
        for kind in KINDS:
            plural = PLURALS[kind]

            async def index(body: kopf.Body, kind: str = kind, **_: Any) -> None:
                self._on_body(kind, body)

            async def event(event: kopf.RawEvent, kind: str = kind, **_: Any) -> None:
                self._on_event(kind, event)

            kopf.index(GROUP, VERSION, plural, id=f"{plural}-store", registry=registry)(index)
            kopf.on.event(GROUP, VERSION, plural, id=f"{plural}-wake", registry=registry)(event)
        return registry

    def _login_now(self) -> kopf.ConnectionInfo:
        info = self._login(settings=self.settings, logger=log)
        if info is None:
            raise kopf.LoginError("the login handler returned no credentials")
        return info

    def _take_back_signals(self) -> None:
        """kopf takes SIGINT and SIGTERM for itself; the controller stops on them instead."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            if self._stop is not None:
                loop.add_signal_handler(sig, self._stop)
            else:
                loop.remove_signal_handler(sig)

    # --- Handlers (kopf calls them for every listed or watched object) ------------------

    def _on_body(self, kind: str, body: Mapping[str, Any]) -> None:
        """Index handler: runs first, for every body, even during the initial listing."""
        self.store.put(kind, body)

    def _on_event(self, kind: str, event: Mapping[str, Any]) -> None:
        """Event handler: runs once kopf has listed every kind, so the store is whole."""
        key = _key_of(kind, event.get("object") or {})
        if event.get("type") == "DELETED":
            self._forget(key)
            self._notify(f"kubernetes: {key} deleted")
        elif (entry := self.store.entries.get(key)) is not None:
            if key in self.store.changed:
                self.store.changed.discard(key)
                self._notify(f"kubernetes: {key} changed")
            elif key in self._targets and self._targets[key] != entry.status:
                self._notify(f"kubernetes: status of {key} changed")
            elif self._api_error is not None:
                self._notify("kubernetes: the API answers again")
        if not self.synced:
            self.synced = True
            self._notify("kubernetes: listed")

    def _forget(self, key: Ref) -> None:
        self.store.drop(key)
        self._targets.pop(key, None)
        self._written_at.pop(key, None)

    async def _relist_forever(self) -> None:
        """Lists of our own, now and then. kopf tells nothing until an object exists, so
        the first says whether there is none; and kopf re-lists after a lost watch but
        never reports the objects deleted meanwhile, so later ones drop those."""
        await asyncio.sleep(self.first_list_after)
        while True:
            try:
                await self.relist()
                self._list_error = None
            except (KubeError, KubeUnreachable) as exc:
                self._list_error = f"cannot list the resources: {exc}"
            except Exception:
                log.exception("listing the resources failed")
            await asyncio.sleep(self.relist_interval if self.synced else self.first_list_after)

    async def relist(self) -> None:
        started, present = time.monotonic(), set()
        for kind in KINDS:
            present |= {_key_of(kind, item) for item in await self._list(kind)}
        if not self.synced:
            if not present:  # nothing declared: an empty store is the whole truth
                self.synced = True
                self._notify("kubernetes: no resources")
            return  # else kopf's events fill the store, then say so
        for key, entry in list(self.store.entries.items()):
            if key not in present and entry.seen < started:
                self._forget(key)
                self._notify(f"kubernetes: {key} is gone")

    async def _list(self, kind: str) -> list[dict[str, Any]]:
        scope = f"/namespaces/{self.namespace}" if self.namespace else ""
        items, token = [], ""
        while True:
            query = f"?limit=500&continue={token}" if token else "?limit=500"
            path = f"/apis/{GROUP}/{VERSION}{scope}/{PLURALS[kind]}{query}"
            answer = await self.api.request("GET", path)
            items += [i for i in answer.get("items") or [] if isinstance(i, dict)]
            token = (answer.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    # --- StatusSink --------------------------------------------------------------------

    async def publish(self, statuses: Mapping[Ref, Status]) -> None:
        """Finalizers, statuses and Events for this node's objects, after a pass."""
        if not self._view.complete:  # the pass planned nothing: it ran before kopf listed
            return
        try:
            await self._add_finalizers()
            await self._write_statuses(statuses)
            await self._post_action_events()
            await self._release_finalizers()
        except KubeUnreachable as exc:
            if self._api_error is None:
                log.warning("Kubernetes API unreachable, retrying: %s", exc)
            self._api_error = f"unreachable: {exc}"
            self._retry(self.unreachable_retry, "kubernetes: retry, the API was unreachable")
            return
        self._api_error = None

    def _retry(self, delay: float, reason: str) -> None:
        asyncio.get_running_loop().call_later(delay, self._notify, reason)

    async def _write_statuses(self, statuses: Mapping[Ref, Status]) -> None:
        self._targets = {k: v for k, v in self._targets.items() if k in self._view.mine}
        for key in self._view.mine:
            entry = self.store.entries.get(key)
            if entry is None or entry.deleting:
                continue
            target = self._target(key, entry, statuses.get(key))
            if target is None:
                continue
            self._targets[key] = target
            if self._stale(key, target, entry.status):
                await self._patch_status(entry, target)

    def _stale(self, key: Ref, target: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
        if target == live:
            return False
        if _without_counters(target) != _without_counters(live):
            return True
        written = self._written_at.setdefault(key, time.monotonic())  # or, first seen
        return time.monotonic() - written > COUNTER_INTERVAL

    def _target(self, key: Ref, entry: Entry, planned: Status | None) -> dict[str, Any] | None:
        """The status to write: the planner's, or why the object cannot be planned.

        Conditions keep the transition times the object already shows while their status
        holds, so a restarted camctl (which remembers no previous statuses) rewrites none.
        """
        body = planned.model_dump(mode="json", by_alias=True, exclude_none=True) if planned else {}
        before = _conditions(entry.status)
        if (failure := self._failure(key)) is not None:
            body["conditions"] = _json(_stalled(*failure, before))
            body["observedGeneration"] = entry.meta.get("generation")
        elif planned is not None:
            body["conditions"] = _json(merge_conditions(before, planned.conditions))
        if not body:
            return None
        cleaned: dict[str, Any] = json.loads(redact(json.dumps(body)))
        return {k: v for k, v in cleaned.items() if v is not None}

    def _failure(self, key: Ref) -> tuple[str, str] | None:
        if key in self._view.invalid:
            text = "; ".join(f"{f}: {m}" for f, m in self._view.invalid[key])
            return "InvalidSpec", text
        if key in self._view.problems:
            text = "; ".join(f"{p.field}: {p.message}" for p in self._view.problems[key])
            return "InvalidReference", text
        return None

    async def _patch_status(self, entry: Entry, target: dict[str, Any]) -> None:
        patch: dict[str, Any] = {"status": merge_patch(entry.status, target)}
        if version := entry.meta.get("resourceVersion"):  # optimistic concurrency
            patch["metadata"] = {"resourceVersion": version}
        try:
            answer = await self.api.request("PATCH", object_path(entry.key, "status"), patch)
        except KubeError as exc:
            self._refused(entry.key, "status", exc)
            return
        self._written_at[entry.key] = time.monotonic()
        await self._status_event(entry, target)
        self._refresh(entry, answer)

    def _refused(self, key: Ref, what: str, exc: KubeError) -> None:
        if exc.status == 404:
            return  # deleted meanwhile: its DELETED event follows
        if exc.status == 409:  # written meanwhile: again once the watch has the new version
            log.info("%s of %s changed meanwhile (409); retrying", what, key)
            self._retry(self.conflict_retry, f"kubernetes: retry {what} of {key}")
            self._targets.pop(key, None)
            return
        log.error("patching the %s of %s failed: %s", what, key, exc)

    def _refresh(self, entry: Entry, answer: Mapping[str, Any]) -> None:
        """Take what this write changed from its answer, which may be newer than the watch
        has told yet; a newer spec is left for the watch to bring (and to be parsed)."""
        meta = answer.get("metadata") or {}
        if not meta or meta.get("generation") != entry.meta.get("generation"):
            return
        entry.body["status"] = copy.deepcopy(answer.get("status"))
        for name in ("resourceVersion", "finalizers"):
            entry.meta.pop(name, None)
            if meta.get(name) is not None:
                entry.meta[name] = copy.deepcopy(meta[name])

    async def _status_event(self, entry: Entry, target: Mapping[str, Any]) -> None:
        """An Event when the Ready condition changes: `kubectl describe` tells the story."""
        new = find(_conditions(target), "Ready")
        old = find(_conditions(entry.status), "Ready")
        if new is None or (old and (old.status, old.reason, old.message) == _triple(new)):
            return
        warning = new.status != "True" and new.reason not in ("Disabled", "Reconciling")
        await self._event(entry, new.reason, new.message or new.reason, warning)

    async def _post_action_events(self) -> None:
        outcome = self._controller.outcome if self._controller else None
        if outcome is None or outcome is self._published:
            return
        self._published = outcome
        for result in outcome.results:
            entry = self._entry_of(result)
            if entry is not None:
                await self._event(entry, *_describe(result))

    def _entry_of(self, result: Result) -> Entry | None:
        """The Stream a MediaMTX write was for; a delete's is the Stream being deleted."""
        key = result.action.stream
        if key is None:
            paths = {_path_of(self.store, e): k for k, e in self._view.mine.items()}
            key = paths.get(result.action.path)
        return self.store.entries.get(key) if key is not None else None

    async def _event(self, entry: Entry, reason: str, message: str, warning: bool) -> None:
        key, now = entry.key, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{key.name[:230]}.{time.time_ns():x}",
                "namespace": key.namespace,
            },
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": key.kind,
                "name": key.name,
                "namespace": key.namespace,
                **{k: entry.meta[k] for k in ("uid", "resourceVersion") if entry.meta.get(k)},
            },
            "reason": reason,
            "message": redact(message)[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT, "host": self.node_name},
            "reportingComponent": f"{GROUP}/{COMPONENT}",
            "reportingInstance": self.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        path = f"/api/v1/namespaces/{key.namespace}/events"
        try:
            await self.api.request("POST", path, body, "application/json")
        except KubeError as exc:
            log.warning("posting an Event for %s failed: %s", key, exc)

    # --- Finalizers --------------------------------------------------------------------

    async def _add_finalizers(self) -> None:
        """Each live Stream this node owns carries its finalizer while the path may exist."""
        for key in self._view.mine:
            entry = self.store.entries.get(key)
            if key.kind != "Stream" or entry is None or entry.deleting:
                continue
            if self.finalizer not in entry.finalizers:
                await self._set_finalizers(entry, [*entry.finalizers, self.finalizer])

    async def _release_finalizers(self) -> None:
        """Drop this node's finalizer from Streams it no longer holds a MediaMTX path for."""
        held = {owner.source for owner in self.inventory.load().values()}
        for entry in self.store.of_kind("Stream"):
            if self.finalizer not in entry.finalizers or origin_of(entry.key) in held:
                continue
            if entry.deleting or entry.key not in self._view.mine:
                kept = [f for f in entry.finalizers if f != self.finalizer]
                await self._set_finalizers(entry, kept)

    async def _set_finalizers(self, entry: Entry, finalizers: list[str]) -> None:
        meta: dict[str, Any] = {"finalizers": finalizers or None}
        if version := entry.meta.get("resourceVersion"):
            meta["resourceVersion"] = version
        try:
            answer = await self.api.request("PATCH", object_path(entry.key), {"metadata": meta})
        except KubeError as exc:
            self._refused(entry.key, "finalizers", exc)
            return
        self._refresh(entry, answer)


# --- Helpers -------------------------------------------------------------------------


def operator_settings() -> kopf.OperatorSettings:
    """kopf as a watcher only: no CRD or namespace scanning, no Events of its own, no
    SIGKILL of the whole process when it is cancelled."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.posting.enabled = False
    settings.process.ultimate_exiting_timeout = None
    return settings


def _without_counters(status: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k not in COUNTERS}


def _conditions(status: Mapping[str, Any]) -> list[Condition]:
    found = []
    for item in status.get("conditions") or []:
        with contextlib.suppress(ValidationError, TypeError):
            found.append(Condition.model_validate(item))
    return found


def _stalled(reason: str, message: str, before: Iterable[Condition]) -> list[Condition]:
    now = datetime.now(UTC).replace(microsecond=0)
    current = [
        condition("Ready", False, reason, message, now),
        condition("Reconciling", False, "Idle", "", now),
        condition("Stalled", True, reason, message, now),
    ]
    return merge_conditions(before, current)


def _json(conditions: Iterable[Condition]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json", by_alias=True) for c in conditions]


def _triple(c: Condition) -> tuple[str, str, str]:
    return c.status, c.reason, c.message


def _path_of(store: Store, entry: Entry) -> str | None:
    resource = entry.resource or store.last_good.get(entry.key)
    return resource.path if isinstance(resource, Stream) else None


def _describe(result: Result) -> tuple[str, str, bool]:
    action = result.action
    if result.error is not None:
        return "ApplyFailed", f"{action.op} MediaMTX path {action.path!r}: {result.error}", True
    fields = f" ({', '.join(sorted(action.diff))})" if action.op == "patch" else ""
    verb = {"add": "added", "patch": "updated", "delete": "deleted"}[action.op]
    return EVENT_REASONS[action.op], f"{verb} MediaMTX path {action.path!r}{fields}", False
