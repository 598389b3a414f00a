"""Async client for MediaMTX's v3 Control API: how camctl reads and changes MediaMTX.

Every failure becomes a MediaMTXError that names the call and the cause (MediaMTX's own error
text, an HTTP status, or why MediaMTX could not be reached). Credentials never appear in
messages, reprs or logs: the API password is kept out of URLs and scrubbed from error texts,
and so are passwords inside URLs that MediaMTX echoes back (camera source URLs).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
from yarl import URL

from controller import __version__
from controller.api.mediamtx import PathConfig, PathRuntime
from controller.kit.net import is_loopback
from controller.kit.redact import REDACTED, redact

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:9997"
ENV_USER = "CAMCTL_MEDIAMTX_USER"
ENV_PASSWORD = "CAMCTL_MEDIAMTX_PASSWORD"
ENV_PASSWORD_FILE = "CAMCTL_MEDIAMTX_PASSWORD_FILE"
# What a person can do about an unreachable MediaMTX, appended to the error.
NEXT_STEP = (
    "is MediaMTX running there? Give its Control API URL with --mediamtx or CAMCTL_MEDIAMTX_URL"
)
# "scheme://user:password@" anywhere in a text; the password part is group 2.
_MAX_PAGES = 10_000  # a bound, so a server that keeps growing cannot keep us paging forever


class MediaMTXError(Exception):
    """A Control API call failed: `call` is "METHOD /path", `status` None if never answered."""

    def __init__(self, call: str, status: int | None, error: str) -> None:
        self.call, self.status, self.error = call, status, error
        super().__init__(f"{call}: {error}" if status is None else f"{call}: {status} {error}")


class PathNotFound(MediaMTXError):
    """MediaMTX answered 404: no such path (configuration)."""


def _quote_name(name: str) -> str:
    """A path name for the URL: "/" kept (MediaMTX names are hierarchical), the rest quoted."""
    if not name:
        raise ValueError("path name must not be empty")
    return quote(name, safe="/")


@dataclass(frozen=True)
class _Answer:
    """An HTTP response, read whole."""

    status: int
    reason: str
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.content)


def _json_object(response: _Answer, call: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise MediaMTXError(call, response.status, "unexpected response: not JSON")
    return data


def _error_text(response: _Answer) -> str:
    """MediaMTX's {"status": "error", "error": ...}, or what else the body or status says."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]:
        text: str = body["error"]
    else:
        words = response.content.decode("utf-8", "replace").split()
        text = " ".join(words)[:200] or response.reason or "no details"
    if response.status == 401:
        text += f" (check {ENV_USER} and {ENV_PASSWORD} or {ENV_PASSWORD_FILE})"
    return text


def check_url(url: str) -> None:
    """ValueError, saying what to give instead, unless `url` is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = url  # a password may be in it, before an "@", with or without a scheme
        if "@" in url:
            shown = redact(url) if "://" in url else f"{REDACTED}@{url.rpartition('@')[2]}"
        example = f"http://{shown}" if "://" not in url else DEFAULT_URL
        raise ValueError(
            f"MediaMTX URL {shown!r} needs http:// or https:// and a host, e.g. {example} "
            "(--mediamtx or CAMCTL_MEDIAMTX_URL)"
        )


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """The URL without "user:password@", and the user and password it carried."""
    parts = urlsplit(url)
    if parts.username is None:
        return url.rstrip("/"), None, None
    netloc = parts.netloc.rpartition("@")[2]
    bare = urlunsplit(parts._replace(netloc=netloc)).rstrip("/")
    return bare, unquote(parts.username), unquote(parts.password or "")


@dataclass(frozen=True)
class _Page:
    """One page of a list as MediaMTX sent it, and what it says."""

    raw: bytes
    items: list[dict[str, Any]]
    page_count: int


class MediaMTXClient:
    """MediaMTX's Control API, the calls camctl makes. Use as `async with` or call aclose().

    Lists are read-only to callers: a page that MediaMTX answers byte for byte as last time
    is not decoded again, and its items are the very objects returned last time, so that a
    pass with nothing to do decodes nothing.
    """

    page_size = 1000  # fewer round trips; MediaMTX sets no upper bound

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        check_url(url)
        # Credentials in the URL would end up in every message that names the URL.
        self.url, url_user, url_password = _split_credentials(url)
        if user is None and url_user is not None:
            user, password = url_user, url_password if password is None else password
        if password and user is None:
            raise ValueError("a MediaMTX password needs a user")
        self.user = user
        self._password = password or None
        # HTTP Basic auth, in UTF-8; a user name with ":" is refused here (RFC 7617).
        self._auth = None if user is None else aiohttp.encode_basic_auth(user, password or "")
        self._timeout = timeout
        self._pages: dict[tuple[str, int], _Page] = {}
        self._base = str(URL(self.url))  # percent-encoded: request paths are appended as is
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        """One session (and its pool of kept-alive connections), made on the first call: it
        belongs to the event loop running then."""
        if self._http is None:
            headers = {"User-Agent": f"camctl/{__version__}"}
            if self._auth is not None:
                headers["Authorization"] = self._auth
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self._timeout, sock_read=self._timeout
                ),
                headers=headers,
                # A proxy set for the rest of the machine (http_proxy) must not come between
                # camctl and a MediaMTX on the same host.
                trust_env=not is_loopback(urlsplit(self.url).hostname or ""),
            )
        return self._http

    @classmethod
    def from_env(cls, url: str, env: Mapping[str, str] = os.environ, **kw: Any) -> MediaMTXClient:
        """A client with credentials from CAMCTL_MEDIAMTX_USER and CAMCTL_MEDIAMTX_PASSWORD or
        CAMCTL_MEDIAMTX_PASSWORD_FILE (a mounted secret; its trailing newline is dropped)."""
        user, password = env.get(ENV_USER) or None, env.get(ENV_PASSWORD) or None
        password_file = env.get(ENV_PASSWORD_FILE) or None
        if password is not None and password_file is not None:
            raise ValueError(f"set {ENV_PASSWORD} or {ENV_PASSWORD_FILE}, not both")
        if password_file is not None:
            try:
                password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise ValueError(
                    f"cannot read {ENV_PASSWORD_FILE} {password_file}: {reason}"
                ) from None
        if password is not None and user is None:
            raise ValueError(f"a MediaMTX password needs a user: set {ENV_USER}")
        kw.setdefault("user", user)
        kw.setdefault("password", password)
        return cls(url, **kw)

    def __repr__(self) -> str:
        return f"MediaMTXClient(url={self.url!r}, user={self.user!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- calls ------------------------------------------------------------------------------
    async def info(self) -> dict[str, Any]:
        return await self._get_object("/v3/info")

    async def list_path_configs(self) -> dict[str, PathConfig]:
        """Every path configuration, resolved (defaults filled in), by name."""
        return cast(dict[str, PathConfig], await self._list_all("/v3/config/paths/list"))

    async def path_configs_fingerprint(self) -> str:
        """A digest of every path configuration as MediaMTX words them: a cheap drift check."""
        digest = hashlib.sha256()
        for page in await self._pages_of("/v3/config/paths/list"):
            digest.update(page.raw)
        return digest.hexdigest()

    async def get_path_config(self, name: str) -> PathConfig:
        path = f"/v3/config/paths/get/{_quote_name(name)}"
        return cast(PathConfig, await self._get_object(path))

    async def add_path_config(self, name: str, conf: PathConfig) -> None:
        await self._request("POST", f"/v3/config/paths/add/{_quote_name(name)}", json=dict(conf))

    async def patch_path_config(self, name: str, conf: PathConfig) -> None:
        path = f"/v3/config/paths/patch/{_quote_name(name)}"
        await self._request("PATCH", path, json=dict(conf))

    async def replace_path_config(self, name: str, conf: PathConfig) -> None:
        path = f"/v3/config/paths/replace/{_quote_name(name)}"
        await self._request("POST", path, json=dict(conf))

    async def delete_path_config(self, name: str) -> None:
        await self._request("DELETE", f"/v3/config/paths/delete/{_quote_name(name)}")

    async def list_paths(self) -> dict[str, PathRuntime]:
        """Every runtime path (source, readers, bytes), by name."""
        return cast(dict[str, PathRuntime], await self._list_all("/v3/paths/list"))

    async def closes(self) -> None:
        """Return when MediaMTX closes an idle connection: it does when it stops (a restart),
        and after its read timeout (10 s by default). Nothing is sent on it, not even TLS.
        MediaMTXError when MediaMTX cannot be reached."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, port)
        except OSError as exc:
            raise MediaMTXError("connect", None, self._unreachable(str(exc))) from exc
        try:
            await reader.read(1)  # EOF, or a reset: either way the connection is gone
        except OSError:
            pass
        finally:
            writer.close()

    async def get_recordings(self, name: str) -> dict[str, Any]:
        return await self._get_object(f"/v3/recordings/get/{_quote_name(name)}")

    # --- plumbing -----------------------------------------------------------------------------
    async def _list_all(self, path: str) -> dict[str, dict[str, Any]]:
        pages = await self._pages_of(path)
        return {str(item.get("name", "")): item for page in pages for item in page.items}

    async def _pages_of(self, path: str) -> list[_Page]:
        pages: list[_Page] = []
        page_count = 1
        while len(pages) < min(page_count, _MAX_PAGES):
            pages.append(await self._page(path, len(pages)))
            page_count = pages[-1].page_count
        for stale in [key for key in self._pages if key[0] == path and key[1] >= len(pages)]:
            del self._pages[stale]
        return pages

    async def _page(self, path: str, number: int) -> _Page:
        params = {"page": number, "itemsPerPage": self.page_size}
        response = await self._request("GET", path, params=params)
        last = self._pages.get((path, number))
        if last is not None and last.raw == response.content:
            return last
        data = _json_object(response, f"GET {path}")
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise MediaMTXError(f"GET {path}", 200, "unexpected response: no list of items")
        page = self._pages[(path, number)] = _Page(
            response.content, items, int(data.get("pageCount") or 0)
        )
        return page

    async def _get_object(self, path: str) -> dict[str, Any]:
        return _json_object(await self._request("GET", path), f"GET {path}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, int] | None = None,
        json: dict[str, Any] | None = None,
    ) -> _Answer:
        call = f"{method} {path}"
        url = URL(self._base + path, encoded=True)
        if params:
            url = url.with_query(params)
        try:
            async with self._session().request(method, url, json=json) as response:
                answer = _Answer(response.status, response.reason or "", await response.read())
        except TimeoutError as exc:
            reason = f"timed out after {self._timeout:g}s ({type(exc).__name__})"
            raise MediaMTXError(call, None, self._unreachable(reason)) from exc
        except aiohttp.ClientError as exc:
            raise MediaMTXError(call, None, self._unreachable(str(exc) or repr(exc))) from exc
        log.debug("MediaMTX %s -> %d", call, answer.status)
        if not answer.is_success:
            error_class = PathNotFound if answer.status == 404 else MediaMTXError
            raise error_class(call, answer.status, self._scrub(_error_text(answer)))
        return answer

    def _unreachable(self, reason: str) -> str:
        return self._scrub(f"cannot reach MediaMTX at {self.url}: {reason} ({NEXT_STEP})")

    def _scrub(self, text: str) -> str:
        """Hide passwords: any in a URL, and the API password wherever it might show up."""
        text = redact(text)
        return text.replace(self._password, REDACTED) if self._password else text


# The MediaMTX releases camctl is tested against (its contract tests use v1.20.1's API
# description); another minor release gets a warning, not a refusal.
TESTED_MEDIAMTX = ("1.20.1",)


def tested_with(version: str | None) -> bool | None:
    """Whether a MediaMTX version is of the minor release camctl is tested with (None: it
    did not say)."""
    if not version:
        return None
    minor = ".".join(version.removeprefix("v").split(".")[:2])
    return any(t.startswith(minor + ".") for t in TESTED_MEDIAMTX)
