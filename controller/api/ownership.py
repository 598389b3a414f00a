"""Which MediaMTX paths camctl owns: one inventory entry per path it created."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owner:
    """Which Stream a path was created for (`Stream/name` or `Stream/ns/name`), and the
    source it came from (a file's real path, or `kubernetes:Stream/ns/name`)."""

    stream: str
    source: str
