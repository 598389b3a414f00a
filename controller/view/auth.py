"""Bearer tokens from a file: several at once, rotated by editing the file, no restart.

One token per line, optionally followed by its role: `TOKEN` is a viewer, `TOKEN admin`
may also call the old service's admin methods (get_storage_info and the like; nothing that
writes: the view stays read-only). Blank lines and lines starting with `#` are ignored. The
file is looked at again at most once a second (its size, time and inode), and a file that
cannot be read accepts no token at all: failing closed. Tokens are compared in constant
time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from pathlib import Path
from typing import Literal

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "admin")
log = logging.getLogger("camctl.view")
RECHECK_SECONDS = 1.0
MAX_TOKEN_FILE = 1 << 20


def token_lines(text: str) -> list[str]:
    """The tokens of a token file: one a line; blank lines and # comments left out."""
    return [token for token, _ in token_roles(text)]


def token_roles(text: str) -> list[tuple[str, Role]]:
    """Each token of a token file with its role (a viewer unless the line says admin)."""
    found: list[tuple[str, Role]] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or line.startswith("#"):
            continue
        role = next((r for r in ROLES if fields[1:] == [r]), None)
        if role is None and len(fields) > 1:
            log.warning("a view token line has an unknown role: taken as a viewer")
        found.append((fields[0], role or "viewer"))
    return found


class Open:
    """No token file: everything is allowed (the server then listens on loopback only)."""

    required = False

    def role_of(self, token: object) -> Role | None:
        return "admin"

    def role_of_header(self, value: str | None) -> Role | None:
        return "admin"

    def check(self, token: object) -> bool:
        return True

    def check_header(self, value: str | None) -> bool:
        return True


class TokenFile:
    required = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._digests: list[tuple[bytes, Role]] = []
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._reload()
        if not self._digests:
            log.warning("%s holds no token: every authenticated request is refused", path)

    def role_of(self, token: object) -> Role | None:
        """The role of `token` if it is one of the file's (constant time in the token)."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            return None
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            self._reload()
        given = hashlib.sha256(token.encode(errors="surrogatepass")).digest()
        found: Role | None = None
        for digest, role in self._digests:  # no early exit: the time tells not which matched
            if hmac.compare_digest(given, digest):
                found = role
        return found

    def role_of_header(self, value: str | None) -> Role | None:
        scheme, _, token = (value or "").partition(" ")
        return self.role_of(token.strip()) if scheme.lower() == "bearer" else None

    def check(self, token: object) -> bool:
        return self.role_of(token) is not None

    def check_header(self, value: str | None) -> bool:
        return self.role_of_header(value) is not None

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if stamp == self._stamp:
                return
            if stat.st_size > MAX_TOKEN_FILE:
                raise OSError(f"larger than {MAX_TOKEN_FILE} bytes")
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            if self._stamp != (0, 0, 0):
                log.error("cannot read the view's token file %s (%s): refusing all", self.path, exc)
            self._digests, self._stamp = [], (0, 0, 0)
            return
        tokens = token_roles(text)
        self._digests = [(hashlib.sha256(t.encode()).digest(), role) for t, role in tokens]
        if self._stamp is not None:
            log.info("view tokens reloaded from %s: %d token(s)", self.path, len(tokens))
        self._stamp = stamp


def readable_by_others(path: Path) -> bool:
    try:
        return bool(os.stat(path).st_mode & 0o077)
    except OSError:
        return False
