"""The view's HTTP server (aiohttp): JSON-RPC, WebSockets, health, metrics, dashboard.

Routes: POST /rpc (JSON-RPC 2.0, batches too), GET /rpc/ws and /ws (JSON-RPC over a
WebSocket; /ws is the old camera service's path and also carries its notifications),
/healthz and /readyz (no token), /metrics, and the dashboard with its client at /,
/client.js and /client.d.ts. Without a token file the server listens on loopback only
and answers only requests addressed to a loopback name (no DNS rebinding).

Clients cannot starve the controller: connections are capped below the open-files limit
with a reserve kept for the controller (capacity.py, listener.py), a request's headers,
its body and the taking of its answer each have a deadline, and what aiohttp logs about
a request never quotes it (httplog.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, payload, web
from aiohttp.abc import AbstractStreamWriter
from prometheus_client import CollectorRegistry

from controller.kit.net import is_loopback
from controller.view import (
    DEFAULT_ADDRESS,
    compat,
    compat_http,
    errors,
    httplog,
    methods,
    openrpc,
)
from controller.view.auth import Open, Role, TokenFile, readable_by_others
from controller.view.capacity import Budget, budget
from controller.view.errors import ViewError
from controller.view.listener import Listener
from controller.view.metrics import ViewMetrics
from controller.view.models import NoParams
from controller.view.rpc import Answer, Context, Dispatcher, Method, error_bytes
from controller.view.state import ViewState
from controller.view.ws import WsLimits, WsSession

log = logging.getLogger("camctl.view")
HERE = Path(__file__).parent
STATIC = {
    "/": ("static/index.html", "text/html"),
    "/dashboard.js": ("static/dashboard.js", "text/javascript"),
    "/dashboard.css": ("static/dashboard.css", "text/css"),
    "/client.js": ("client.js", "text/javascript"),
    "/client.d.ts": ("client.d.ts", "application/typescript"),
}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
JSON_HEADERS = {"Cache-Control": "no-store"}
RPC_HEADERS = {**JSON_HEADERS, "Content-Type": "application/json"}
UNJOINED_FROM = 64 * 1024  # bytes of an answer sent in its parts (bench_view: 100 streams)


@dataclass(frozen=True)
class Limits:
    max_body: int = 256 * 1024  # bytes of one POST /rpc body
    max_batch: int = 100  # requests in one batch
    ws: WsLimits = field(default_factory=WsLimits)
    max_connections: int = 256  # open at once, WebSockets included (fewer if files are few)
    fd_reserve: int = 256  # descriptors kept free for the controller
    header_timeout: float = 10.0  # from connecting (or the last answer) to a request's headers
    body_timeout: float = 10.0  # to receive a POST body
    send_timeout: float = 30.0  # an answer may wait this long for the client to read it
    max_line_size: int = 4096  # bytes of the request line
    max_field_size: int = 4608  # bytes of one header: a token may have 4,096 characters
    max_headers: int = 32  # all unfinished on every connection: ~65 MiB (bench_view)


class HttpSession:
    """One POST /rpc request, as the methods see it: it cannot hold subscriptions."""

    def __init__(self, role: Role | None) -> None:
        self.authenticated = role is not None
        self.role: Role = role or "viewer"

    def subscribe(self, wanted: Any) -> str:
        raise errors.RPCError(errors.NEEDS_WEBSOCKET, "subscriptions need the WebSocket at /rpc/ws")

    def unsubscribe(self, subscription: str) -> bool:
        raise errors.RPCError(errors.NEEDS_WEBSOCKET, "subscriptions need the WebSocket at /rpc/ws")

    def authenticate_compat(self, role: Role) -> str:
        return ""  # nothing to remember over HTTP: each request brings its token


def parse_address(address: str) -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT or :PORT (loopback) into a host and a port."""
    parts = urlsplit(f"//{address}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ViewError(f"{address!r}: not HOST:PORT ({exc})") from None
    if port is None:
        raise ViewError(f"{address!r}: not HOST:PORT (no port)")
    return parts.hostname or "127.0.0.1", port


def served_methods() -> list[Method]:
    """Every method the dispatcher answers, rpc.discover included."""
    served = [*methods.methods(), *compat.methods()]
    document: dict[str, Any] = {}

    def discover(ctx: Context, params: NoParams) -> dict[str, Any]:
        return document

    served.append(
        Method("rpc.discover", "This OpenRPC document", NoParams, dict[str, Any], discover)
    )
    document.update(openrpc.document(served))
    return served


class View:
    """Serves `state` (a sink of the controller's, see controller.wiring); `registry` holds
    the controller's own counters, exported beside the view's in /metrics."""

    def __init__(
        self,
        state: ViewState,
        registry: CollectorRegistry | None = None,
        token_file: Path | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self.limits = limits
        self.auth: Open | TokenFile = TokenFile(token_file) if token_file else Open()
        self.state = state
        self.metrics = ViewMetrics(self.state, registry)
        self.dispatcher = Dispatcher(
            self.state,
            served_methods(),
            self.auth,
            max_batch=limits.max_batch,
            count=self.metrics.count,
        )
        self.files = {route: (HERE / name).read_bytes() for route, (name, _) in STATIC.items()}
        self._runner: web.AppRunner | None = None
        self.listener: Listener | None = None
        self.budget: Budget | None = None
        self.url: str | None = None
        if token_file is not None and readable_by_others(token_file):
            log.warning("%s can be read by other users: chmod 600 it", token_file)

    # --- lifecycle ----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.limits.max_body)
        app.router.add_post("/rpc", self.rpc)
        app.router.add_get("/rpc/ws", self.websocket)
        app.router.add_get("/ws", self.websocket)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.prometheus)
        for route in STATIC:
            app.router.add_get(route, self.static)
        compat_http.LegacyHttp(self.state, self.auth, self._host_allowed).add_routes(app.router)
        app.on_shutdown.append(self._close_websockets)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 9990) -> str:
        if not self.auth.required and not is_loopback(host):
            raise ViewError(
                f"refusing to serve the view on {host} without a token file: anyone who can "
                "reach it could read it; give --view-token-file, or listen on 127.0.0.1"
            )
        self.budget = budget(self.limits.max_connections, self.limits.fd_reserve)
        httplog.install()
        self._runner = web.AppRunner(
            self.app(),
            access_log=None,
            shutdown_timeout=1.0,
            logger=httplog.HTTP_LOG,
            keepalive_timeout=self.limits.header_timeout,
            lingering_time=1.0,
            max_line_size=self.limits.max_line_size,
            max_field_size=self.limits.max_field_size,
            max_headers=self.limits.max_headers,
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self.listener = Listener(
            self._runner.server,
            self.budget.connections,
            self.limits.send_timeout,
            self.metrics.accept_failed,
        )
        self.metrics.watch(self.listener)
        try:
            sockets = self.listener.listen(host, port)
        except OSError as exc:
            await self.stop()
            raise ViewError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.listener.start()
        bound = sockets[0].getsockname()[1]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{bound}"
        log.info(
            "view at %s%s; %s",
            self.url,
            "" if self.auth.required else " (no token: loopback)",
            self.budget.describe(),
        )
        return self.url

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = self.url = None

    async def _close_websockets(self, app: web.Application) -> None:
        for listener in list(self.state.listeners):
            if isinstance(listener, WsSession):
                await listener.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    # --- handlers -----------------------------------------------------------------------
    async def rpc(self, request: web.Request) -> web.Response:
        if not self._host_allowed(request):
            return _json_error(403, errors.INVALID_REQUEST, "not a loopback Host")
        role = self.auth.role_of_header(request.headers.get("Authorization"))
        authenticated = role is not None
        if (request.content_length or 0) > self.limits.max_body:
            return _json_error(413, errors.INVALID_REQUEST, "request body too large")
        try:
            if request.content.is_eof():  # the whole body came with the headers
                body = await request.read()
            else:
                async with asyncio.timeout(self.limits.body_timeout):
                    body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json_error(413, errors.INVALID_REQUEST, "request body too large")
        except TimeoutError:
            response = _json_error(408, errors.INVALID_REQUEST, "request body too slow")
            response.force_close()
            return response
        answer = self.dispatcher.answer(body, HttpSession(role))
        if answer is None:
            return web.Response(status=204)
        status = 200
        head = answer[0]  # an error answer is all in its head
        if not authenticated and head.startswith(b'{"jsonrpc":"2.0","id":'):
            status = 401 if b'"error":{"code":-32001,' in head else 200
        response = web.Response(body=_body(answer), status=status, headers=RPC_HEADERS)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="camctl"'
        return response

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._host_allowed(request) or not self._origin_allowed(request):
            return _json_error(403, errors.INVALID_REQUEST, "cross-origin WebSocket refused")
        if len(self.state.listeners) >= self.limits.ws.max_connections:
            return _json_error(503, errors.LIMIT_EXCEEDED, "too many WebSocket connections")
        ws = web.WebSocketResponse(
            max_msg_size=self.limits.ws.max_message, heartbeat=30.0, compress=False
        )
        await ws.prepare(request)
        session = WsSession(
            ws,
            self.dispatcher,
            self.state,
            self.limits.ws,
            role=self.auth.role_of_header(request.headers.get("Authorization")),
            compat_notes=request.path == "/ws",
        )
        await session.run()
        return ws

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, headers=JSON_HEADERS)

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready once a pass has planned and the last one reached MediaMTX and wrote what
        it had to: a rollout (minReadySeconds) stops at a camctl that cannot converge."""
        snapshot = self.state.snapshot
        health = snapshot.controller
        why = ""
        if not snapshot.ready:
            why = "no pass has finished yet"
        elif not health.get("lastPassSucceeded"):
            why = "the last pass did not succeed: " + "; ".join(health.get("errors") or [])[:500]
        body = {"ready": not why, "version": snapshot.version, **({"reason": why} if why else {})}
        return web.json_response(body, status=503 if why else 200, headers=JSON_HEADERS)

    async def prometheus(self, request: web.Request) -> web.Response:
        if not self._host_allowed(request):
            return web.Response(status=403, text="not a loopback Host\n")
        if not self.auth.check_header(request.headers.get("Authorization")):
            headers = {"WWW-Authenticate": 'Bearer realm="camctl"'}
            return web.Response(status=401, text="bearer token required\n", headers=headers)
        return web.Response(
            body=self.metrics.exposition(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def static(self, request: web.Request) -> web.Response:
        if not self._host_allowed(request):
            return web.Response(status=403, text="not a loopback Host\n")
        route = request.path
        kind = STATIC[route][1]
        return web.Response(
            body=self.files[route], content_type=kind, charset="utf-8", headers=PAGE_HEADERS
        )

    # --- checks -------------------------------------------------------------------------
    def _host_allowed(self, request: web.Request) -> bool:
        """Without tokens, only requests for a loopback name (a page on another site that
        resolves its own name to 127.0.0.1 must not read the view)."""
        if self.auth.required:
            return True
        host = urlsplit(f"//{request.host}").hostname or ""
        return is_loopback(host)

    def _origin_allowed(self, request: web.Request) -> bool:
        """Without tokens, browsers may open WebSockets from the view's own pages only."""
        origin = request.headers.get("Origin")
        if self.auth.required or origin is None:
            return True
        return urlsplit(origin).netloc == request.host


class Parts(payload.Payload):
    """A JSON-RPC answer's parts, written one after the other: a cached result goes to the
    socket as the cache holds it, instead of being copied into a whole answer first."""

    def __init__(self, parts: Answer) -> None:
        super().__init__(parts, content_type="application/json")
        self._parts = parts
        self._length = sum(len(part) for part in parts)

    @property
    def size(self) -> int:
        return self._length

    async def write(self, writer: AbstractStreamWriter) -> None:
        for part in self._parts:
            await writer.write(part)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._parts).decode(encoding, errors)


def _body(answer: Answer) -> bytes | Parts:
    """A large answer in its parts: a copy of it would cost more than one more write. A small
    one joined: one write (and a single part is not copied by the join)."""
    if len(answer) > 1 and sum(len(part) for part in answer) >= UNJOINED_FROM:
        return Parts(answer)
    return b"".join(answer)


def _json_error(status: int, code: int, message: str) -> web.Response:
    return web.Response(
        body=error_bytes(code, message), status=status, content_type="application/json"
    )


@asynccontextmanager
async def serving(
    state: ViewState,
    registry: CollectorRegistry | None = None,
    address: str = DEFAULT_ADDRESS,
    token_file: Path | None = None,
) -> AsyncIterator[View]:
    """Serve the view `state` on `address` (HOST:PORT) while the block runs."""
    host, port = parse_address(address)
    view = View(state, registry, token_file)
    await view.start(host, port)
    try:
        yield view
    finally:
        await view.stop()


__all__ = ["DEFAULT_ADDRESS", "Limits", "View", "ViewError", "parse_address", "serving"]
