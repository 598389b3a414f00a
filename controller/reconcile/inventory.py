"""Which MediaMTX paths camctl created: the ownership record in the state directory.

camctl never changes or deletes a path that is not in here. The file is replaced
atomically, and an exclusive lock keeps two controllers from sharing one directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller.reconcile.plan import Owner

FILENAME = "inventory.json"
LOCKNAME = "inventory.lock"
FORMAT_VERSION = 1


class InventoryError(Exception):
    pass


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "camctl"


class Inventory:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / FILENAME

    def load(self) -> dict[str, Owner]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Refuse to guess: an unreadable inventory could make camctl forget what it owns.
            raise InventoryError(f"{self.path}: cannot read the inventory: {exc}") from exc
        try:
            return {
                name: Owner(str(entry["stream"]), str(entry["source"]))
                for name, entry in data["paths"].items()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            raise InventoryError(f"{self.path}: not a camctl inventory ({exc})") from exc

    def save(self, owned: Mapping[str, Owner]) -> None:
        paths = {
            name: {"stream": o.stream, "source": o.source} for name, o in sorted(owned.items())
        }
        write_atomic(self.path, {"version": FORMAT_VERSION, "paths": paths})

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.state_dir / LOCKNAME, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise InventoryError(
                    f"{self.state_dir} is in use by another camctl (give each its own --state-dir)"
                ) from exc
            yield


def write_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
