"""JSON-RPC 2.0 dispatch: requests and batches in, serialised answers out.

Transport-free: the HTTP handler and the WebSocket sessions hand it the bytes they got
and send back what it returns. Answers of cacheable methods are serialised once per
snapshot version and parameters, then only spliced into an envelope with the request's
id. Whatever goes wrong, the answer is a JSON-RPC error, never a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from controller.view import errors
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


class Session(Protocol):
    """One HTTP request or one WebSocket connection, as the methods see it."""

    authenticated: bool

    def subscribe(self, wanted: Filter) -> str: ...

    def unsubscribe(self, subscription: str) -> bool: ...

    def authenticate_compat(self) -> str: ...


@dataclass(frozen=True)
class Context:
    snapshot: Snapshot
    state: ViewState
    session: Session
    auth: Auth


Handler = Callable[[Context, Any], Any]


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
        self.state, self.auth, self.max_batch, self.count = state, auth, max_batch, count
        self.methods = {m.name: m for m in methods}

    def handle(self, body: bytes | str, session: Session) -> bytes | None:
        """The answer to a request or a batch; None when nothing is to be sent back."""
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(None, RPCError(errors.PARSE_ERROR))
        if not isinstance(message, list):
            return self.one(message, session)
        if not message:
            return _error(None, RPCError(errors.INVALID_REQUEST, "empty batch"))
        if len(message) > self.max_batch:
            text = f"batch of {len(message)} requests; at most {self.max_batch}"
            return _error(None, RPCError(errors.INVALID_REQUEST, text))
        answers = [a for m in message if (a := self.one(m, session)) is not None]
        return b"[" + b",".join(answers) + b"]" if answers else None

    def one(self, message: Any, session: Session) -> bytes | None:
        if not isinstance(message, dict):
            return _error(None, RPCError(errors.INVALID_REQUEST, "a request is a JSON object"))
        id_ = message.get("id")
        if not _valid_id(id_):
            return _error(None, RPCError(errors.INVALID_REQUEST, "id must be a string or integer"))
        try:
            name, params = _shape(message)
            result = self.call(name, params, session)
        except RPCError as exc:
            self.count(self._known(message.get("method")), str(exc.code))
            return None if "id" not in message else _error(id_, exc)
        except Exception:
            log.exception("JSON-RPC method %r failed", message.get("method"))
            self.count(self._known(message.get("method")), str(errors.INTERNAL_ERROR))
            return None if "id" not in message else _error(id_, RPCError(errors.INTERNAL_ERROR))
        self.count(name, "ok")
        if "id" not in message:  # a notification: done, and nothing is said
            return None
        return b'{"jsonrpc":"2.0","id":' + _dumps(id_) + b',"result":' + result + b"}"

    def call(self, name: str, params: dict[str, Any], session: Session) -> bytes:
        """One method's serialised result, from the cache when it can be."""
        method = self.methods.get(name)
        if method is None:
            raise RPCError(errors.METHOD_NOT_FOUND, f"Method not found: {name[:100]}")
        if "auth_token" in params:  # the old service's per-call credentials
            token = (
                params["auth_token"] if method.name == "authenticate" else params.pop("auth_token")
            )
            allowed = session.authenticated or self.auth.check(token)
        else:
            allowed = session.authenticated
        if not (allowed or method.public):
            raise RPCError(errors.UNAUTHORIZED, "Authentication required: send a bearer token")
        if not method.cacheable:
            return _dumps(self._run(method, params, session))
        key = (name, _dumps(params, sort_keys=True) if params else b"")
        cached = self.state.cached(key)
        if cached is None:
            cached = self.state.remember(key, _dumps(self._run(method, params, session)))
        return cached

    def _run(self, method: Method, params: dict[str, Any], session: Session) -> Any:
        try:
            parsed = method.params.model_validate(params)
        except ValidationError as exc:
            raise RPCError(errors.INVALID_PARAMS, "Invalid params", _details(exc)) from None
        context = Context(self.state.snapshot, self.state, session, self.auth)
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


def _dumps(data: Any, *, sort_keys: bool = False) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=sort_keys).encode()


def error_bytes(code: int, message: str | None = None) -> bytes:
    """An error answer not tied to a request (HTTP 401, 413 and the like)."""
    return _error(None, RPCError(code, message))
