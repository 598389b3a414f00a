"""JSON-RPC 2.0 dispatch: requests and batches in, serialised answers out.

Transport-free: the HTTP handler and the WebSocket sessions hand it the bytes they got
and send back what it returns. Answers of cacheable methods are serialised once per
snapshot version and parameters, then only put after an envelope's head with the
request's id: an answer comes in parts (`Dispatcher.answer`), so that HTTP can send a
cached result as it is, never copied. Whatever goes wrong, the answer is a JSON-RPC error,
never a stack trace.

Sessions on the old camera service's endpoint (`legacy`, see ws.py) are answered as that
service did: parameters it did not know are ignored and loose types ("10" for 10) accepted,
and a valid per-call `auth_token` authenticates the connection from then on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from controller.view import errors
from controller.view.auth import Role
from controller.view.errors import RPCError
from controller.view.models import Params

if TYPE_CHECKING:
    from controller.view.events import Filter
    from controller.view.snapshot import Snapshot
    from controller.view.state import ViewState

log = logging.getLogger("camctl.view")
MEMBERS = frozenset({"jsonrpc", "method", "params", "id"})
MAX_ERROR_DETAILS = 10


class Auth(Protocol):
    @property
    def required(self) -> bool: ...

    def check(self, token: object) -> bool: ...

    def role_of(self, token: object) -> Role | None: ...


class Session(Protocol):
    """One HTTP request or one WebSocket connection, as the methods see it; `role` is its
    token's (see auth.py)."""

    authenticated: bool
    role: Role

    def subscribe(self, wanted: Filter) -> str: ...

    def unsubscribe(self, subscription: str) -> bool: ...

    def authenticate_compat(self, role: Role) -> str: ...


def is_legacy(session: Session) -> bool:
    """Whether the session is on the old service's endpoint (/ws); HTTP sessions never are."""
    return bool(getattr(session, "legacy", False))


@dataclass
class Tally:
    """Calls answered since the view started, and how many of them were errors."""

    answered: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Context:
    snapshot: Snapshot
    state: ViewState
    session: Session
    auth: Auth
    tally: Tally = field(default_factory=Tally)


Handler = Callable[[Context, Any], Any]
Answer = tuple[bytes, ...]  # an answer's parts, in order: joined, they are the answer


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    params: type[Params]
    result: Any  # a type: for the OpenRPC document and the Python client
    handler: Handler
    cacheable: bool = True  # the answer depends only on the snapshot and the params
    public: bool = False  # answered without a token (ping, authenticate)
    errors: tuple[int, ...] = ()
    tag: str = "camctl"
    description: str = ""


class Dispatcher:
    def __init__(
        self,
        state: ViewState,
        methods: Sequence[Method],
        auth: Auth,
        *,
        max_batch: int = 100,
        count: Callable[[str, str], None] = lambda method, outcome: None,
    ) -> None:
        self.state, self.auth, self.max_batch, self._count = state, auth, max_batch, count
        self.methods = {m.name: m for m in methods}
        self.tally = Tally()
        self._accepted = {m.name: _accepted_names(m.params) for m in methods}

    def count(self, method: str, outcome: str) -> None:
        self.tally.answered += 1
        self.tally.failed += outcome != "ok"
        self._count(method, outcome)

    def handle(self, body: bytes | str, session: Session) -> bytes | None:
        """The answer to a request or a batch; None when nothing is to be sent back."""
        parts = self.answer(body, session)
        return None if parts is None else b"".join(parts)

    def answer(self, body: bytes | str, session: Session) -> Answer | None:
        """handle()'s answer in the parts it is made of, to be sent one after the other."""
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return (_error(None, RPCError(errors.PARSE_ERROR)),)
        if not isinstance(message, list):
            return self.one(message, session)
        if not message:
            return (_error(None, RPCError(errors.INVALID_REQUEST, "empty batch")),)
        if len(message) > self.max_batch:
            text = f"batch of {len(message)} requests; at most {self.max_batch}"
            return (_error(None, RPCError(errors.INVALID_REQUEST, text)),)
        answers = [b"".join(a) for m in message if (a := self.one(m, session)) is not None]
        return (b"[" + b",".join(answers) + b"]",) if answers else None

    def one(self, message: Any, session: Session) -> Answer | None:
        if not isinstance(message, dict):
            return (_error(None, RPCError(errors.INVALID_REQUEST, "a request is a JSON object")),)
        id_ = message.get("id")
        if not _valid_id(id_):
            text = "id must be a string or integer"
            return (_error(None, RPCError(errors.INVALID_REQUEST, text)),)
        try:
            name, params = _shape(message)
            closed = self.call(name, params, session)
        except RPCError as exc:
            self.count(self._known(message.get("method")), str(exc.code))
            return None if "id" not in message else (_error(id_, exc),)
        except Exception:
            log.exception("JSON-RPC method %r failed", message.get("method"))
            self.count(self._known(message.get("method")), str(errors.INTERNAL_ERROR))
            return None if "id" not in message else (_error(id_, RPCError(errors.INTERNAL_ERROR)),)
        self.count(name, "ok")
        if "id" not in message:  # a notification: done, and nothing is said
            return None
        return (b'{"jsonrpc":"2.0","id":' + _id_bytes(id_) + b',"result":', closed)

    def call(self, name: str, params: dict[str, Any], session: Session) -> bytes:
        """One method's serialised result and the `}` that closes its answer (the answer's
        last part, whole), from the cache when it can be."""
        method = self.methods.get(name)
        if method is None:
            raise RPCError(errors.METHOD_NOT_FOUND, f"Method not found: {name[:100]}")
        legacy = is_legacy(session)
        if "auth_token" in params:  # the old service's per-call credentials
            token = (
                params["auth_token"] if method.name == "authenticate" else params.pop("auth_token")
            )
            role = None if session.authenticated else self.auth.role_of(token)
            allowed = session.authenticated or role is not None
            if role is not None and legacy:
                session.authenticate_compat(role)  # as the old service did: from now on
        else:
            allowed = session.authenticated
        if not (allowed or method.public):
            raise RPCError(errors.UNAUTHORIZED, "Authentication required: send a bearer token")
        if legacy:  # the old service ignored what it did not know
            accepted = self._accepted[name]
            params = {k: v for k, v in params.items() if k in accepted and v is not None}
        if not method.cacheable:
            return _dumps(self._run(method, params, session, legacy)) + b"}"
        # Legacy answers may differ (an unknown device is an object there): cached apart.
        key = (name, (b"legacy:" if legacy else b"") + (_dumps_sorted(params) if params else b"{}"))
        cached = self.state.cached(key)
        if cached is None:
            closed = _dumps(self._run(method, params, session, legacy)) + b"}"
            cached = self.state.remember(key, closed)
        return cached

    def refuse(self, body: bytes | str, refusal: RPCError) -> bytes | None:
        """`refusal` as the answer to each request in `body` (by its id); None when `body`
        holds only notifications, which are never answered."""
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(None, refusal)
        if not isinstance(message, list):
            return _refused(message, refusal)
        answers = [a for m in message[: self.max_batch] if (a := _refused(m, refusal))]
        return b"[" + b",".join(answers) + b"]" if answers else None

    def _run(self, method: Method, params: dict[str, Any], session: Session, lax: bool) -> Any:
        try:
            parsed = method.params.model_validate(params, strict=False if lax else None)
        except ValidationError as exc:
            raise RPCError(errors.INVALID_PARAMS, "Invalid params", _details(exc)) from None
        context = Context(self.state.snapshot, self.state, session, self.auth, self.tally)
        return method.handler(context, parsed)

    def _known(self, name: Any) -> str:
        return name if isinstance(name, str) and name in self.methods else "other"


def _shape(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if message.get("jsonrpc") != "2.0":
        raise RPCError(errors.INVALID_REQUEST, 'jsonrpc must be "2.0"')
    if extra := set(message) - MEMBERS:
        raise RPCError(errors.INVALID_REQUEST, f"unknown members: {', '.join(sorted(extra))[:200]}")
    name = message.get("method")
    if not isinstance(name, str) or not name:
        raise RPCError(errors.INVALID_REQUEST, "method must be a non-empty string")
    params = message.get("params")
    if params is None or params == []:
        return name, {}
    if isinstance(params, list):
        raise RPCError(errors.INVALID_PARAMS, "params must be an object (parameters by name)")
    if not isinstance(params, dict):
        raise RPCError(errors.INVALID_REQUEST, "params must be an object")
    return name, dict(params)


def _accepted_names(model: type[Params]) -> frozenset[str]:
    """The parameter names a model takes: its field names and their aliases."""
    fields = model.model_fields
    return frozenset([*fields, *(f.alias for f in fields.values() if f.alias)])


def _refused(message: Any, refusal: RPCError) -> bytes | None:
    if isinstance(message, dict) and "id" not in message:
        return None  # a notification
    id_ = message.get("id") if isinstance(message, dict) else None
    return _error(id_ if _valid_id(id_) else None, refusal)


def _valid_id(id_: Any) -> bool:
    return (
        id_ is None or isinstance(id_, str) or (isinstance(id_, int) and not isinstance(id_, bool))
    )


def _details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(params)", "message": e["msg"][:300]}
        for e in exc.errors(include_url=False, include_input=False)[:MAX_ERROR_DETAILS]
    ]


def _error(id_: Any, exc: RPCError) -> bytes:
    return _dumps({"jsonrpc": "2.0", "id": id_, "error": exc.body()})


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps makes one a call
_COMPACT_SORTED = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def _dumps(data: Any) -> bytes:
    return _COMPACT.encode(data).encode()


def _dumps_sorted(data: Any) -> bytes:
    return _COMPACT_SORTED.encode(data).encode()


def _id_bytes(id_: str | int | None) -> bytes:
    """A valid id as JSON (an int as json writes it: its decimal digits)."""
    return b"%d" % id_ if type(id_) is int else _dumps(id_)


def error_bytes(code: int, message: str | None = None) -> bytes:
    """An error answer not tied to a request (HTTP 401, 413 and the like)."""
    return _error(None, RPCError(code, message))
