"""The view's listening sockets: accept connections while there is room, never beyond.

aiohttp's `web.Server` is a protocol factory for asyncio; instead of letting asyncio
accept as fast as clients connect, the view accepts one connection at a time, and only
while fewer than `capacity` are open. Clients beyond the cap wait in the kernel's listen
backlog and cost this process no descriptor. A client that stops taking what it is sent
is dropped after `send_timeout` (WebSockets too). A failed accept (EMFILE when the process
is out of descriptors, or any other error) is logged once, then counted
(`camctl_view_accept_errors_total`), and accepting resumes after a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from functools import partial

from controller.view.httplog import Throttle

log = logging.getLogger("camctl.view")
RETRY_AFTER = 0.25  # seconds to wait after a failed accept
BACKLOG = 1024  # connections waiting for room: the kernel holds them, not this process


class Slot:
    """One connection's place under the cap; freed once, whatever ends the connection."""

    __slots__ = ("_held", "_opened", "_room")

    def __init__(self, room: asyncio.Semaphore, opened: Callable[[int], None]) -> None:
        self._room, self._opened, self._held = room, opened, True
        opened(1)

    def free(self) -> None:
        if self._held:
            self._held = False
            self._opened(-1)
            self._room.release()


class Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, which frees its slot when the connection ends
    and drops a client that leaves an answer waiting longer than `send_timeout`: asyncio
    pauses the protocol's writing while the client does not read, and resumes it when it
    does."""

    __slots__ = ("_stalled", "inner", "send_timeout", "slot", "transport")

    def __init__(self, inner: asyncio.Protocol, slot: Slot, send_timeout: float) -> None:
        self.inner, self.slot, self.send_timeout = inner, slot, send_timeout
        self.transport: asyncio.BaseTransport | None = None
        self._stalled: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._unstall()
        try:
            self.inner.connection_lost(exc)
        finally:
            self.slot.free()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        loop = asyncio.get_running_loop()
        self._stalled = loop.call_later(self.send_timeout, self._drop)
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self._unstall()
        self.inner.resume_writing()

    def _unstall(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def _drop(self) -> None:
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.abort()


class Listener:
    """Accepts on `sockets` into `factory` (aiohttp's `runner.server`), at most `capacity`
    connections open at once, each dropped if it leaves an answer untaken `send_timeout`."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        capacity: int,
        send_timeout: float,
        failed: Callable[[str], None] = lambda errno_name: None,
    ) -> None:
        self.factory, self.capacity, self.failed = factory, capacity, failed
        self.send_timeout = send_timeout
        self.open = 0  # connections open now
        self.sockets: list[socket.socket] = []
        self._room = asyncio.Semaphore(capacity)
        self._tasks: list[asyncio.Task[None]] = []
        self._throttle = Throttle()

    def listen(self, host: str, port: int) -> list[socket.socket]:
        """Bind every address `host` names (as asyncio does), one port for all."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and len(self.sockets) > 1:  # the port the first one got
                    address = (address[0], self.sockets[0].getsockname()[1], *address[2:])
                sock.bind(address)
                sock.listen(BACKLOG)
                sock.setblocking(False)
        except OSError:
            self.close()
            raise
        return self.sockets

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._accepting(s)) for s in self.sockets]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.close()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def _count(self, change: int) -> None:
        self.open += change

    async def _accepting(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._room.acquire()
            try:
                conn, _ = await loop.sock_accept(sock)
            except ConnectionAbortedError:  # the client gave up while queued: next one
                self._room.release()
                continue
            except OSError as exc:
                self._room.release()
                self._accept_failed(exc)
                await asyncio.sleep(RETRY_AFTER)
                continue
            except BaseException:
                self._room.release()
                raise
            slot = Slot(self._room, self._count)
            try:
                await loop.connect_accepted_socket(partial(self._protocol, slot), conn)
            except Exception:  # the client left before its connection was set up
                slot.free()  # its transport, if made, closes the socket

    def _protocol(self, slot: Slot) -> Counted:
        return Counted(self.factory(), slot, self.send_timeout)

    def _accept_failed(self, exc: OSError) -> None:
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        self.failed(name)
        held = self._throttle.due(name)
        if held is not None:
            log.warning(
                "view: cannot accept a connection (%s: %s), %d open; further failures are "
                "counted in camctl_view_accept_errors_total%s",
                name,
                exc.strerror,
                self.open,
                f" ({held} since the last report)" if held else "",
            )
