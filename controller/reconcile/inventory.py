"""Which MediaMTX paths camctl created: the ownership record in the state directory.

camctl never changes or deletes a path that is not in here. The file is replaced
atomically, so reading it needs no lock; an exclusive lock keeps two controllers (or a
controller and `camctl apply`) from writing one directory at once. Whatever is wrong with
the directory is an `InventoryError` naming the file and what to do: camctl then writes
nothing, rather than guess what it owns.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from controller import __version__
from controller.api.ownership import Owner

FILENAME = "inventory.json"
LOCKNAME = "inventory.lock"
# 1: {"version", "paths": {path: {"stream", "source"}}}; 2 adds "writer", the camctl that
# wrote it, so that a refusal can name it. Formats this camctl reads: 1 and 2.
FORMAT_VERSION = 2
READS = frozenset({1, 2})


class InventoryError(Exception):
    pass


class InventoryInUse(InventoryError):
    """Another camctl holds the lock: not a fault of the directory."""


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "camctl"


class Inventory:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / FILENAME
        self._lock: IO[str] | None = None
        self.read_format: int | None = None  # the format of the file as last read

    def load(self) -> dict[str, Owner]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.read_format = None
            return {}
        except OSError as exc:
            raise InventoryError(
                f"{self.path}: cannot read the inventory ({_reason(exc)}); camctl writes "
                "nothing until it is repaired or moved away (see docs/operations.md)"
            ) from exc
        owners, self.read_format = self._parse(text)
        return owners

    def _parse(self, text: str) -> tuple[dict[str, Owner], int]:
        try:
            data = json.loads(text)
        except ValueError as exc:
            # Refuse to guess: an unreadable inventory could make camctl forget what it owns.
            raise InventoryError(
                f"{self.path}: cannot read the inventory ({_reason(exc)}); camctl writes "
                "nothing until it is repaired or moved away (see docs/operations.md)"
            ) from exc
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and version > FORMAT_VERSION:
            writer = data.get("writer") or "a newer camctl"
            raise InventoryError(
                f"{self.path}: written by {writer} (inventory format {version}); this camctl "
                f"{__version__} reads formats up to {FORMAT_VERSION}: run the newer camctl, or "
                "move the file away and let this one re-adopt (see docs/operations.md)"
            )
        try:
            if version not in READS:
                raise ValueError(f"format {version!r}")
            owners = {
                name: Owner(str(entry["stream"]), str(entry["source"]))
                for name, entry in data["paths"].items()
            }
            return owners, version
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InventoryError(
                f"{self.path}: not a camctl inventory ({exc}); camctl writes nothing until it "
                "is repaired or moved away (see docs/operations.md)"
            ) from exc

    def save(self, owned: Mapping[str, Owner]) -> None:
        paths = {
            name: {"stream": o.stream, "source": o.source} for name, o in sorted(owned.items())
        }
        document = {"version": FORMAT_VERSION, "writer": f"camctl {__version__}", "paths": paths}
        write_atomic(self.path, document)
        self.read_format = FORMAT_VERSION

    def migrate(self) -> bool:
        """Bring a file of an older format to this one, atomically, keeping the old file
        beside it (`inventory.json.v1`) until `forget_previous` after a successful pass."""
        if self.read_format is None or self.read_format == FORMAT_VERSION:
            return False
        text = self.path.read_text(encoding="utf-8")
        owners, read = self._parse(text)
        write_atomic(self.previous(read), text)
        self.save(owners)
        return True

    def previous(self, version: int) -> Path:
        return self.state_dir / f"{FILENAME}.v{version}"

    def forget_previous(self) -> None:
        """After a pass that went well in this format, the older file is no longer needed."""
        for version in READS - {FORMAT_VERSION}:
            self.previous(version).unlink(missing_ok=True)

    def acquire(self) -> None:
        """Take the directory's lock, unless already held; never waits."""
        if self._lock is not None:
            return
        path = self.state_dir / LOCKNAME
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = open(path, "a")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise InventoryError(
                f"{path}: cannot lock the state directory ({_reason(exc)})"
            ) from exc
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise InventoryInUse(
                f"{self.state_dir} is in use by another camctl that writes to it (`camctl plan` "
                "may read it meanwhile; another controller needs its own --state-dir)"
            ) from exc
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def write_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    """Write JSON (or, given a str, that text) so that readers see the old file or the new
    one, never half of either. `durable`: on the disk before this returns, so that a power
    cut keeps it; without, it is as safe from a crash of the process, not of the host."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if isinstance(data, str):
                out.write(data)
            else:
                json.dump(data, out, indent=2, sort_keys=True)
                out.write("\n")
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
