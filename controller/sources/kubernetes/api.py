"""The HTTP client for the requests camctl makes itself: its writes, and lists of its own.

kopf only watches. Statuses and finalizers are PATCHed, Events POSTed and the kinds listed
here, with the credentials kopf logs in with. Also what those requests are made of: object
paths, JSON merge patches, and credentials masked out of anything written.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import kopf

from controller.api.kinds import GROUP, PLURALS, VERSION, Ref

COMPONENT = "camctl"
MERGE_PATCH = "application/merge-patch+json"


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

    async def list_objects(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        """Every object of one kind, in one namespace or (None) all, page by page."""
        items, token = [], ""
        while True:
            query = f"?limit=500&continue={token}" if token else "?limit=500"
            answer = await self.request("GET", collection_path(kind, namespace) + query)
            items += [i for i in answer.get("items") or [] if isinstance(i, dict)]
            token = (answer.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

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


def collection_path(kind: str, namespace: str | None) -> str:
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"/apis/{GROUP}/{VERSION}{scope}/{PLURALS[kind]}"


def object_path(key: Ref, subresource: str = "") -> str:
    base = f"{collection_path(key.kind, key.namespace)}/{key.name}"
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
