"""Network cameras' credential files: read before each pass, handed to the planner resolved.

A Camera's `spec.credentials.file` is a small YAML file `{username, password}`, as systemd's
`LoadCredential=` or a Kubernetes Secret volume leaves it. It is read only from under the
`--credentials-root` folders (a relative name is taken from the first), only if it is a
regular file of at most `MAX_BYTES`, and again only when its stat changed, so a rotated
password is used from the next pass on. What goes wrong is said without quoting the file:
a YAML error names a line and column, never the text around it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from controller.api.credentials import Credentials, Resolved, Unavailable, parse
from controller.api.desired import Desired
from controller.api.kinds import Camera, Ref
from controller.kit import yamlfile
from controller.kit.yamlfile import Refused

MAX_BYTES = 4096
SECRETS_ELSEWHERE = Unavailable(
    "a secretRef is read only by `camctl run --kubernetes --read-secrets` (see docs/kubernetes.md)"
)

StatKey = tuple[int, int, int, int, int]


class CredentialFiles:
    """Reads the credential files the Cameras name; see the module docstring."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = [os.path.realpath(root) for root in roots]
        self._read: dict[str, tuple[StatKey, Resolved]] = {}

    async def resolve(self, desired: Desired) -> Mapping[Ref, Resolved]:
        return self.read(desired.cameras)

    def read(self, cameras: Mapping[Ref, Camera]) -> dict[Ref, Resolved]:
        """The credentials of every Camera with `spec.credentials.file`."""
        found: dict[Ref, Resolved] = {}
        wanted: set[str] = set()
        for key, camera in cameras.items():
            credentials = camera.spec.credentials
            if credentials is not None and credentials.secret_ref is not None:
                found[key] = SECRETS_ELSEWHERE  # unless a Secret reader answers instead
            if credentials is None or credentials.file is None:
                continue
            path = self.where(credentials.file)
            wanted.add(path)
            found[key] = self._resolved(credentials.file, path)
        self._read = {p: r for p, r in self._read.items() if p in wanted}  # forget the rest
        return found

    def where(self, name: str) -> str:
        """The path a file name stands for: relative ones under the first root."""
        if os.path.isabs(name) or not self.roots:
            return os.path.normpath(name)
        return os.path.normpath(os.path.join(self.roots[0], name))

    def _resolved(self, name: str, path: str) -> Resolved:
        try:
            info = os.stat(path)
        except OSError as exc:
            self._read.pop(path, None)
            return Unavailable(f"credentials file {name}: {exc.strerror or 'cannot stat'}")
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        cached = self._read.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        resolved = self._load(name, path)
        self._read[path] = (key, resolved)
        return resolved

    def _load(self, name: str, path: str) -> Resolved:
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root + os.sep) for root in self.roots):
            roots = ", ".join(self.roots) or "none given"
            return Unavailable(
                f"credentials file {name} is outside the credentials roots ({roots}): "
                "see --credentials-root"
            )
        try:
            text = yamlfile.read_text(Path(path), [Path(r) for r in self.roots], MAX_BYTES)
            documents = yamlfile.load_plain(text)
        except Refused as refused:
            located = (refused.line, refused.col) != (1, 1)
            where = f" (line {refused.line}, column {refused.col})" if located else ""
            return Unavailable(f"credentials file {name}: {_without_quotes(refused)}{where}")
        if len(documents) != 1:
            return Unavailable(f"credentials file {name}: must hold one YAML document")
        resolved = parse(documents[0])
        if isinstance(resolved, Credentials):
            return resolved
        return Unavailable(f"credentials file {name}: {resolved.message}")


def _without_quotes(refused: Refused) -> str:
    """The kind of problem, never the parser's words: they may quote the password."""
    message = str(refused)
    if message.startswith(("invalid YAML", "not UTF-8")):
        return "not valid YAML" if message.startswith("invalid") else "not UTF-8 text"
    return message
