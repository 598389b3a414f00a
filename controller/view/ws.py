"""One WebSocket connection: requests in; answers and notifications out, in order.

A session that is not authenticated by its upgrade request (Authorization header) must
call `authenticate` within a few seconds. Outgoing messages wait in a bounded queue: a
client that does not read is disconnected rather than allowed to grow the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web

from controller.view import errors
from controller.view.errors import RPCError
from controller.view.events import Event, Filter
from controller.view.rpc import Dispatcher, error_bytes
from controller.view.state import ViewState


@dataclass(frozen=True)
class WsLimits:
    max_message: int = 64 * 1024  # bytes in one incoming message (bigger: closed, 1009)
    max_connections: int = 1000
    max_subscriptions: int = 16  # per connection
    send_queue: int = 1024  # messages waiting for a slow reader before it is dropped
    auth_timeout: float = 10.0
    rate: float = 200.0  # requests per second per connection (burst: the same number)


class WsSession:
    """One WebSocket connection, as the methods see it: it holds subscriptions."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        dispatcher: Dispatcher,
        state: ViewState,
        limits: WsLimits,
        *,
        authenticated: bool,
        compat_notes: bool,
    ) -> None:
        self.ws, self.dispatcher, self.state, self.limits = ws, dispatcher, state, limits
        self.authenticated = authenticated
        self.compat_notes = compat_notes  # the old service's notifications (path /ws)
        self.id = secrets.token_hex(8)
        self.subscriptions: dict[str, Filter] = {}
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(limits.send_queue)
        self._allowance, self._stamp = limits.rate, time.monotonic()
        self._closing: asyncio.Task[bool] | None = None

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

    def authenticate_compat(self) -> str:
        self.authenticated = True
        return self.id

    # --- Listener -----------------------------------------------------------------------
    def notify(self, events: Sequence[Event], compat_notes: Sequence[bytes]) -> None:
        for subscription, wanted in self.subscriptions.items():
            head = b'{"jsonrpc":"2.0","method":"events.event","params":{"subscription":"'
            head += subscription.encode() + b'","event":'
            for event in events:
                if wanted.wants(event):
                    self.send(head + event.wire + b"}}")
        if self.compat_notes and self.authenticated:
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
        timer = None
        if not self.authenticated:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(self.limits.auth_timeout, self._auth_expired)
        self.state.listeners.add(self)
        try:
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    self._receive(message.data)
                elif message.type == WSMsgType.BINARY:
                    self.send(error_bytes(errors.INVALID_REQUEST, "send JSON in text frames"))
        finally:
            self.state.listeners.discard(self)
            if timer is not None:
                timer.cancel()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _receive(self, text: str) -> None:
        if not self._within_rate():
            self.send(error_bytes(errors.LIMIT_EXCEEDED, "rate limit: slow down"))
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

    def _auth_expired(self) -> None:
        if not self.authenticated:
            self.close(b"authentication required: call authenticate")
