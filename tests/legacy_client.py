"""A client of camctl's /ws that behaves as the old camera service's SDKs and web client do.

One WebSocket, no Authorization header (browsers cannot send one): a token goes in an
`authenticate` call or in each call's params as `auth_token`. Requests are numbered and
answers matched by `id`; only `result` is read. An answer without one is dropped, as those
clients drop it: they then wait for their 30 s timeout, which `result` turns into a failure
that says so. Notifications are kept as they arrive.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

WAIT = 10.0  # an upper bound for a loaded machine, not a latency target


class OldClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, token: str | None = None) -> None:
        self.ws, self.token = ws, token
        self.ids = itertools.count(1)
        self.answers: dict[Any, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []

    async def send(self, method: str, params: dict[str, Any] | None = None, *,
                   per_call: bool = False) -> int:  # fmt: skip
        """Send one request; with `per_call`, the token rides in its params."""
        id_ = next(self.ids)
        params = dict(params or {})
        if per_call:
            params["auth_token"] = self.token
        request = {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}
        await self.ws.send_str(json.dumps(request))
        return id_

    async def answer(self, id_: int, timeout: float = WAIT) -> dict[str, Any]:
        """The answer that carries `id_`, whatever it is."""
        async with asyncio.timeout(timeout):
            while id_ not in self.answers:
                await self._read()
        return self.answers.pop(id_)

    async def result(self, method: str, params: dict[str, Any] | None = None, *,
                     per_call: bool = False) -> Any:  # fmt: skip
        answer = await self.answer(await self.send(method, params, per_call=per_call))
        if "result" not in answer:
            pytest.fail(f"{method}: no result, so an old client waits 30 s for one: {answer}")
        return answer["result"]

    async def notification(
        self, method: str, wanted: Callable[[dict[str, Any]], bool] = lambda p: True
    ) -> dict[str, Any]:
        """The first notification `method` whose params are `wanted`, kept or still to come."""
        async with asyncio.timeout(WAIT):
            while True:
                for note in self.notifications:
                    if note["method"] == method and wanted(note["params"]):
                        self.notifications.remove(note)
                        return dict(note["params"])
                await self._read()

    async def _read(self) -> None:
        message = json.loads(await self.ws.receive_str())
        for item in message if isinstance(message, list) else [message]:
            if "id" in item:
                self.answers[item["id"]] = item
            else:
                self.notifications.append(item)
