"""One WebSocket connection: requests in; answers and notifications out, in order.

A session that is not authenticated by its upgrade request (Authorization header) must
call `authenticate` within a few seconds. Outgoing messages wait in a bounded queue: a
client that does not read is disconnected rather than allowed to grow the server.

On /ws, the old camera service's endpoint, a session is "legacy": it also hears that
service's notifications, a per-call `auth_token` authenticates it, and an authentication
lasts `legacy_session` seconds (the `expires_at` that `authenticate` answers); then the
session must authenticate again within `auth_timeout`, as when it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import WSCloseCode, WSMsgType, web

from controller.view import errors
from controller.view.auth import Role
from controller.view.errors import RPCError
from controller.view.events import Event, Filter
from controller.view.rpc import Dispatcher, error_bytes
from controller.view.state import ViewState


@dataclass(frozen=True)
class WsLimits:
    max_message: int = 64 * 1024  # bytes in one incoming message (bigger: closed, 1009)
    max_connections: int = 200  # of Limits.max_connections: the rest stays for plain HTTP
    max_subscriptions: int = 16  # per connection
    send_queue: int = 1024  # messages waiting for a slow reader before it is dropped
    auth_timeout: float = 10.0
    rate: float = 200.0  # requests per second per connection (burst: the same number)
    legacy_session: float = 24 * 3600.0  # seconds one authentication lasts on /ws


class WsSession:
    """One WebSocket connection, as the methods see it: it holds subscriptions."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        dispatcher: Dispatcher,
        state: ViewState,
        limits: WsLimits,
        *,
        role: Role | None,
        compat_notes: bool,
    ) -> None:
        self.ws, self.dispatcher, self.state, self.limits = ws, dispatcher, state, limits
        self.authenticated = role is not None
        self.role: Role = role or "viewer"
        self.legacy = compat_notes  # path /ws: the old service's endpoint
        self.expires_at: datetime | None = None  # when a legacy authentication ends
        self.id = secrets.token_hex(8)
        self.subscriptions: dict[str, Filter] = {}
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(limits.send_queue)
        self._allowance, self._stamp = limits.rate, time.monotonic()
        self._closing: asyncio.Task[bool] | None = None
        self._timer: asyncio.TimerHandle | None = None  # authentication deadline or expiry

    # --- what methods may ask of a session --------------------------------------------
    def subscribe(self, wanted: Filter) -> str:
        if len(self.subscriptions) >= self.limits.max_subscriptions:
            text = f"at most {self.limits.max_subscriptions} subscriptions per connection"
            raise RPCError(errors.LIMIT_EXCEEDED, text)
        subscription = secrets.token_hex(8)
        self.subscriptions[subscription] = wanted
        return subscription

    def unsubscribe(self, subscription: str) -> bool:
        return self.subscriptions.pop(subscription, None) is not None

    def authenticate_compat(self, role: Role) -> str:
        self.authenticated, self.role = True, role
        self._authenticated_now()
        return self.id

    # --- Listener -----------------------------------------------------------------------
    def notify(self, events: Sequence[Event], compat_notes: Sequence[bytes]) -> None:
        for subscription, wanted in self.subscriptions.items():
            head = b'{"jsonrpc":"2.0","method":"events.event","params":{"subscription":"'
            head += subscription.encode() + b'","event":'
            for event in events:
                if wanted.wants(event):
                    self.send(head + event.wire + b"}}")
        if self.legacy and self.authenticated:
            for note in compat_notes:
                self.send(note)

    def send(self, data: bytes) -> None:
        if self._closing is not None:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:  # not reading: let it go before it costs memory
            self.close(b"too slow: messages were not read")

    def close(self, why: bytes) -> None:
        if self._closing is None:
            code = WSCloseCode.POLICY_VIOLATION
            self._closing = asyncio.ensure_future(self.ws.close(code=code, message=why))

    # --- the connection -----------------------------------------------------------------
    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        if self.authenticated:
            self._authenticated_now()
        else:
            self._await_authentication()
        self.state.listeners.add(self)
        try:
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    self._receive(message.data)
                elif message.type == WSMsgType.BINARY:
                    self.send(error_bytes(errors.INVALID_REQUEST, "send JSON in text frames"))
        finally:
            self.state.listeners.discard(self)
            if self._timer is not None:
                self._timer.cancel()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _receive(self, text: str) -> None:
        if not self._within_rate():
            refused = RPCError(errors.LIMIT_EXCEEDED, "rate limit: slow down")
            answer = self.dispatcher.refuse(text, refused)
            if answer is not None:
                self.send(answer)
            return
        answer = self.dispatcher.handle(text, self)
        if answer is not None:
            self.send(answer)

    def _within_rate(self) -> bool:
        now = time.monotonic()
        rate = self.limits.rate
        self._allowance = min(rate, self._allowance + (now - self._stamp) * rate)
        self._stamp = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    async def _write(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                data = await self.queue.get()
                await self.ws.send_frame(data, WSMsgType.TEXT)

    # --- authentication deadlines ------------------------------------------------------
    def _set_timer(self, delay: float, callback: Callable[[], None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _await_authentication(self) -> None:
        self._set_timer(self.limits.auth_timeout, self._auth_expired)

    def _authenticated_now(self) -> None:
        """A legacy session's authentication runs out after `legacy_session` seconds."""
        if not self.legacy:
            return
        lifetime = self.limits.legacy_session
        self.expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
        self._set_timer(lifetime, self._session_expired)

    def _session_expired(self) -> None:
        self.authenticated, self.expires_at = False, None
        self._await_authentication()

    def _auth_expired(self) -> None:
        if not self.authenticated:
            self.close(b"authentication required: call authenticate")
