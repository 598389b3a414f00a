"""The old camera service's HTTP paths, on the view's address.

Its health server's `/health/system`, `/health/cameras`, `/health/mediamtx` and
`/health/ready` answer its shapes (no token, as `/healthz`: statuses and counts only);
`/api/cameras` answers what `get_camera_list` does, and `/files/recordings/<filename>`
downloads a segment `list_recordings` named (its web client downloads there and ignores
`download_url`); `/files/snapshots/…` is always 404, camctl takes no snapshots. Those three
need a view token, as `Authorization: Bearer` or the old `X-API-Key` header.

A download is served only for a file name the last pass's scan found, under a Recording
root the controller is allowed to read, whose real path (symlinks resolved) stays inside
that root's real path and opens, without following a link, as a regular file; names with
`..`, a leading `/`, a NUL or a backslash are refused before any lookup. That file and only
it is sent, whole (no ranges, no compressed siblings).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from aiohttp import web

from controller.api.recorded import RecordingFiles, Segment
from controller.observe.recordings import allowed
from controller.view import compat_admin
from controller.view.compat import unsafe
from controller.view.compat_admin import timestamp
from controller.view.state import ViewState

JSON_HEADERS = {"Cache-Control": "no-store"}
MEDIA_TYPES = {".mp4": "video/mp4", ".ts": "video/mp2t"}
CHUNK = 256 * 1024


class Auth(Protocol):
    def check(self, token: object) -> bool: ...

    def check_header(self, value: str | None) -> bool: ...


class LegacyHttp:
    def __init__(
        self, state: ViewState, auth: Auth, host_allowed: Callable[[web.Request], bool]
    ) -> None:
        self.state, self.auth, self.host_allowed = state, auth, host_allowed

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/health/system", self.system)
        router.add_get("/health/cameras", self.cameras_health)
        router.add_get("/health/mediamtx", self.mediamtx)
        router.add_get("/health/ready", self.ready)
        router.add_get("/api/cameras", self.cameras)
        router.add_get("/files/recordings/{filename:.+}", self.recording)
        router.add_get("/files/snapshots/{filename:.+}", self.snapshot)

    # --- health --------------------------------------------------------------------------
    async def system(self, request: web.Request) -> web.Response:
        h = compat_admin.health(self.state)
        components = {
            "mediamtx": _component(h.mediamtx, h.mediamtx_details),
            "camera_monitor": _component(h.camera_monitor, h.cameras),
            "service_manager": _component(h.service_manager, h.manager_details),
        }
        body: dict[str, Any] = {"status": h.status, "timestamp": timestamp()}
        body["components"] = components
        if h.status == "unhealthy":
            failing = [name for name, c in components.items() if c["status"] != "healthy"]
            body["error"] = f"unhealthy: {', '.join(failing)}"
        return self._json(request, body, 500 if h.status == "unhealthy" else 200)

    async def cameras_health(self, request: web.Request) -> web.Response:
        h = compat_admin.health(self.state)
        return self._part(request, h.camera_monitor, h.cameras)

    async def mediamtx(self, request: web.Request) -> web.Response:
        h = compat_admin.health(self.state)
        return self._part(request, h.mediamtx, h.mediamtx_details)

    async def ready(self, request: web.Request) -> web.Response:
        h = compat_admin.health(self.state)
        if h.mediamtx and h.service_manager:
            return self._json(request, {"status": "ready", "timestamp": timestamp()}, 200)
        details = {
            "mediamtx": "healthy" if h.mediamtx else "unhealthy",
            "service_manager": "healthy" if h.service_manager else "unhealthy",
        }
        body = {"status": "not_ready", "timestamp": timestamp(), "details": details}
        return self._json(request, body, 503)

    def _part(self, request: web.Request, healthy: bool, details: str) -> web.Response:
        body = {"status": "healthy" if healthy else "unhealthy", "timestamp": timestamp()}
        body["details"] = details
        if not healthy:
            body["error"] = details
        return self._json(request, body, 200 if healthy else 500)

    # --- data, with a token ----------------------------------------------------------------
    async def cameras(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        cameras = list(self.state.compat.cameras.values())
        connected = sum(c["status"] == "CONNECTED" for c in cameras)
        body = {"cameras": cameras, "total": len(cameras), "connected": connected}
        return web.json_response(body, headers=JSON_HEADERS)

    async def recording(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        name = request.match_info["filename"]
        if (reason := unsafe(name)) is not None:
            return _error(400, f"refusing filename {name[:200]!r}: {reason}")
        found = self.state.snapshot.recorded.find(name)
        roots = self.state.settings.recordings_roots
        opened = await asyncio.to_thread(_open, *found, roots) if found else None
        if opened is None:
            return _error(404, f"file not found: {name[:200]}")
        with opened as file:
            return await _send(request, file, os.path.basename(name))

    async def snapshot(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        return _error(404, "file not found: camctl takes no snapshots")

    # --- checks ----------------------------------------------------------------------------
    def _refused(self, request: web.Request) -> web.Response | None:
        """403 for a non-loopback Host without tokens, 401 without a valid token."""
        if not self.host_allowed(request):
            return _error(403, "not a loopback Host")
        if self.auth.check_header(request.headers.get("Authorization")):
            return None
        if self.auth.check(request.headers.get("X-API-Key")):
            return None
        response = _error(401, "Authentication required: send a bearer token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="camctl"'
        return response

    def _json(self, request: web.Request, body: dict[str, Any], status: int) -> web.Response:
        if not self.host_allowed(request):
            return _error(403, "not a loopback Host")
        return web.json_response(body, status=status, headers=JSON_HEADERS)


def _open(files: RecordingFiles, segment: Segment, roots: tuple[str, ...]) -> BinaryIO | None:
    """A segment the scan found, opened if it may be served (see the module's docstring)."""
    if not segment.file or not allowed(files.root, roots):
        return None
    real_root = os.path.realpath(files.root)
    real = os.path.realpath(os.path.join(real_root, segment.file))
    if not real.startswith(real_root.rstrip("/") + "/"):
        return None
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    file = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        file.close()
        return None
    return file


async def _send(request: web.Request, file: BinaryIO, name: str) -> web.StreamResponse:
    """The whole file, read off the event loop a chunk at a time."""
    response = web.StreamResponse(
        headers={
            "Content-Type": MEDIA_TYPES.get(os.path.splitext(name)[1], "application/octet-stream"),
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )
    response.content_length = os.fstat(file.fileno()).st_size
    await response.prepare(request)
    if request.method != "HEAD":
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


def _component(healthy: bool, details: str) -> dict[str, str]:
    return {"status": "healthy" if healthy else "unhealthy", "details": details}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=JSON_HEADERS)
