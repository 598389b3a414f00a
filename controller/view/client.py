"""A typed Python client of the view, async (`AsyncViewClient`) and sync (`ViewClient`).

    with ViewClient("http://127.0.0.1:9990", token) as view:
        for stream in view.streams(label_selector="site=home"):
            print(stream.metadata.name, stream.status and stream.status.urls)
        for segment in view.segments("front-door", since="2026-11-28T08:00:00Z").items:
            print(segment.start, segment.url)            # newest first, MediaMTX playback
        for event in view.subscribe(kinds=["Stream"]):   # blocks, yields as things change
            print(event.type, event.kind, event.name)

Results are the server's own models (Camera, Stream, …), so they are checked on arrival.
List methods follow `continue` tokens until the last page. The sync client runs the async
one on a private event loop: do not use it inside a running event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncGenerator, Awaitable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

import aiohttp

from controller.api.kinds import Camera, Recording, Stream
from controller.view import DEFAULT_URL
from controller.view.auth import token_lines
from controller.view.errors import UNAUTHORIZED, RPCError
from controller.view.models import (
    CameraList,
    ControllerStatus,
    DeviceItem,
    DeviceList,
    Event,
    EventKind,
    EventList,
    Page,
    PathItem,
    PathList,
    PlanResult,
    RecordingList,
    SegmentPage,
    StreamList,
)

T = TypeVar("T")
Time = datetime | str  # an aware datetime, or RFC 3339 text


class SegmentQuery(TypedDict, total=False):
    """recordings.segments' window and page; the server's defaults for what is left out."""

    since: Time | None
    until: Time | None
    limit: int  # 1-1000, default 100
    offset: int  # counted from the newest


P = TypeVar("P", bound=Page[Any])


class TransportError(Exception):
    """The view could not be reached, or answered something that is not JSON-RPC."""


class Unreachable(TransportError):
    """Nothing answered at the view's URL (refused, timed out, no such host)."""


def check_url(url: str) -> None:
    """ValueError unless `url` is an http(s) URL with a host, as the view is reached."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        example = f"http://{url}" if "://" not in url else DEFAULT_URL
        raise ValueError(f"view URL {url!r} needs http:// or https:// and a host, e.g. {example}")


def token_from(file: Path | None = None, env: dict[str, str] | None = None) -> str | None:
    """The first token of `file`, else $CAMCTL_VIEW_TOKEN, else none."""
    env = dict(os.environ) if env is None else env
    if file is not None:
        return next(iter(token_lines(file.read_text(encoding="utf-8"))), None)
    return env.get("CAMCTL_VIEW_TOKEN") or None


class AsyncViewClient:
    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, timeout: float = 10):
        check_url(url)
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=self.headers)
        return self._session

    # --- raw JSON-RPC -------------------------------------------------------------------
    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One call; its result, or RPCError with the server's code and message."""
        answer = await self._post(self._request(method, params))
        try:
            return _result(answer)
        except RPCError as exc:
            if exc.code != UNAUTHORIZED:
                raise
            raise RPCError(exc.code, self._refusal(), exc.data) from None

    def _refusal(self) -> str:
        """Why the view refused: no token sent, or one it does not know (the server says the
        same for both, so that it tells a stranger nothing)."""
        if self.token is None:
            return f"Authentication required: the view at {self.url} wants a bearer token"
        return (
            f"Authentication required: the view at {self.url} refused the token given "
            "(not a line of its token file)"
        )

    async def batch(self, calls: Sequence[tuple[str, dict[str, Any] | None]]) -> list[Any]:
        """Several calls in one request; each item is a result or an RPCError."""
        requests = [self._request(m, p) for m, p in calls]
        answers = await self._post(requests)
        if not isinstance(answers, list):
            raise RPCError(**_error_of(answers))
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        out: list[Any] = []
        for request in requests:
            try:
                out.append(_result(by_id.get(request["id"], {})))
            except RPCError as exc:
                out.append(exc)
        return out

    def _request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params:
            request["params"] = {k: v for k, v in params.items() if v is not None}
        return request

    async def _post(self, body: Any) -> Any:
        try:
            async with self._http().post(f"{self.url}/rpc", json=body) as response:
                text = await response.text()
        except (aiohttp.ClientConnectorError, TimeoutError) as exc:
            refused = isinstance(getattr(exc, "os_error", None), ConnectionRefusedError)
            reason = "connection refused" if refused else str(exc) or type(exc).__name__
            raise Unreachable(f"cannot reach the view at {self.url}: {reason}") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"{self.url}: {exc or type(exc).__name__}") from exc
        try:
            return json.loads(text)
        except ValueError:
            raise TransportError(
                f"the view at {self.url} answered HTTP {response.status}, not JSON-RPC"
            ) from None

    # --- typed methods ------------------------------------------------------------------
    async def _all(self, method: str, model: type[P], params: dict[str, Any]) -> list[Any]:
        items: list[Any] = []
        token = None
        while True:
            page = model.model_validate(await self.call(method, params | {"continue": token}))
            items.extend(page.items)
            token = page.continue_
            if token is None:
                return items

    async def cameras(self, **filters: str | None) -> list[Camera]:
        return await self._all("cameras.list", CameraList, dict(filters))

    async def streams(self, **filters: str | None) -> list[Stream]:
        return await self._all("streams.list", StreamList, dict(filters))

    async def recordings(self, **filters: str | None) -> list[Recording]:
        return await self._all("recordings.list", RecordingList, dict(filters))

    async def camera(self, name: str, namespace: str = "default") -> Camera:
        params = {"name": name, "namespace": namespace}
        return Camera.model_validate(await self.call("cameras.get", params))

    async def stream(self, name: str, namespace: str = "default") -> Stream:
        params = {"name": name, "namespace": namespace}
        return Stream.model_validate(await self.call("streams.get", params))

    async def recording(self, name: str, namespace: str = "default") -> Recording:
        params = {"name": name, "namespace": namespace}
        return Recording.model_validate(await self.call("recordings.get", params))

    async def segments(
        self, name: str, namespace: str = "default", **query: Unpack[SegmentQuery]
    ) -> SegmentPage:
        """One page of a Recording's segments, newest first, each with its playback URL."""
        params: dict[str, Any] = {"name": name, "namespace": namespace, **query}
        params |= {"since": _rfc3339(query.get("since")), "until": _rfc3339(query.get("until"))}
        return SegmentPage.model_validate(await self.call("recordings.segments", params))

    async def devices(self) -> list[DeviceItem]:
        return await self._all("devices.list", DeviceList, {})

    async def paths(self, owned: bool | None = None) -> list[PathItem]:
        return await self._all("paths.list", PathList, {"owned": owned})

    async def plan(self) -> PlanResult:
        return PlanResult.model_validate(await self.call("plan.get"))

    async def controller(self) -> ControllerStatus:
        return ControllerStatus.model_validate(await self.call("controller.status"))

    async def events(self, since: int = 0, limit: int = 100) -> EventList:
        params = {"since": since, "limit": limit}
        return EventList.model_validate(await self.call("events.list", params))

    async def discover(self) -> dict[str, Any]:
        document: dict[str, Any] = await self.call("rpc.discover")
        return document

    # --- subscriptions ------------------------------------------------------------------
    async def subscribe(
        self,
        kinds: Sequence[EventKind] | None = None,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Events as they happen, until the caller stops iterating (or the server goes)."""
        params = {"kinds": list(kinds) if kinds else None, "namespace": namespace}
        params["labelSelector"] = label_selector
        url = self.url.replace("http", "ws", 1) + "/rpc/ws"
        try:
            async with self._http().ws_connect(url, heartbeat=30) as ws:
                await ws.send_json(self._request("events.subscribe", params))
                _result(json.loads(await ws.receive_str()))
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    data = json.loads(message.data)
                    if data.get("method") == "events.event":
                        yield Event.model_validate(data["params"]["event"])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{url}: {exc or type(exc).__name__}") from exc


class ViewClient:
    """The same methods, blocking."""

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, timeout: float = 10):
        self._loop = asyncio.new_event_loop()
        self._client = AsyncViewClient(url, token, timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._client.close())
            self._loop.close()

    def _run(self, work: Awaitable[T]) -> T:
        return self._loop.run_until_complete(work)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self._run(self._client.call(method, params))

    def batch(self, calls: Sequence[tuple[str, dict[str, Any] | None]]) -> list[Any]:
        return self._run(self._client.batch(calls))

    def cameras(self, **filters: str | None) -> list[Camera]:
        return self._run(self._client.cameras(**filters))

    def streams(self, **filters: str | None) -> list[Stream]:
        return self._run(self._client.streams(**filters))

    def recordings(self, **filters: str | None) -> list[Recording]:
        return self._run(self._client.recordings(**filters))

    def camera(self, name: str, namespace: str = "default") -> Camera:
        return self._run(self._client.camera(name, namespace))

    def stream(self, name: str, namespace: str = "default") -> Stream:
        return self._run(self._client.stream(name, namespace))

    def recording(self, name: str, namespace: str = "default") -> Recording:
        return self._run(self._client.recording(name, namespace))

    def segments(
        self, name: str, namespace: str = "default", **query: Unpack[SegmentQuery]
    ) -> SegmentPage:
        return self._run(self._client.segments(name, namespace, **query))

    def devices(self) -> list[DeviceItem]:
        return self._run(self._client.devices())

    def paths(self, owned: bool | None = None) -> list[PathItem]:
        return self._run(self._client.paths(owned))

    def plan(self) -> PlanResult:
        return self._run(self._client.plan())

    def controller(self) -> ControllerStatus:
        return self._run(self._client.controller())

    def events(self, since: int = 0, limit: int = 100) -> EventList:
        return self._run(self._client.events(since, limit))

    def discover(self) -> dict[str, Any]:
        return self._run(self._client.discover())

    def subscribe(
        self,
        kinds: Sequence[EventKind] | None = None,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> Iterator[Event]:
        events = self._client.subscribe(kinds, namespace, label_selector)
        try:
            while True:
                try:
                    yield self._run(anext(events))
                except StopAsyncIteration:
                    return
        finally:
            self._run(events.aclose())


def _rfc3339(when: Time | None) -> str | None:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("give an aware datetime: a naive one names no instant")
        return when.isoformat()
    return when


def _result(answer: Any) -> Any:
    if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
        raise TransportError("not a JSON-RPC 2.0 answer")
    if "error" in answer:
        raise RPCError(**_error_of(answer))
    return answer.get("result")


def _error_of(answer: Any) -> dict[str, Any]:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return {"code": -32603, "message": "malformed answer"}
    code, message = error.get("code", -32603), error.get("message")
    return {"code": code, "message": message, "data": error.get("data")}


__all__ = [
    "AsyncViewClient",
    "RPCError",
    "SegmentQuery",
    "TransportError",
    "Unreachable",
    "ViewClient",
    "token_from",
]
