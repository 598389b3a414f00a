"""Shared fixtures: async tests on asyncio (anyio's pytest plugin) and the umockdev Testbed.

umockdev gotchas (0.17.16), learned the hard way:
- Destroying a Testbed unsets $UMOCKDEV_DIR even while a newer Testbed lives, after which udev
  silently shows the real /sys again. So the whole session keeps ONE Testbed and clear()s it
  between tests instead of making one per test or per module.
- Testbed sets UMOCKDEV_DIR with g_setenv: os.environ never sees it (GLib.getenv does). A child
  process needs `UMOCKDEV_DIR=tb.get_root_dir()` in its environment.
- Re-adding a device with an `N:` (device node) line whose node was used before in the same
  Testbed aborts the whole process (assertion in create_node_for_device), even after
  remove_device() or clear(). Enumeration needs no /dev file: DEVNAME gives the node name, so
  the records in the tests have no `N:` line.
- Monitors made before clear() receive no events afterwards.
- A monitor's socket holds only about ten uevents; one more and umockdev aborts the process
  ("sendmsg failed: Resource temporarily unavailable"). Let the event loop drain the monitor
  (`await asyncio.sleep(0)`) between uevents when sending many.
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "gitops"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _require_umockdev_preload() -> None:
    if "umockdev" not in os.environ.get("LD_PRELOAD", ""):
        pytest.fail(
            "these udev tests need the umockdev preload; run them as "
            "`umockdev-wrapper python -m pytest tests/` (without it udev shows the real /sys, "
            "so every device list is just empty)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def _session_testbed() -> Iterator[Any]:
    _require_umockdev_preload()
    import gi

    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev

    tb = UMockdev.Testbed.new()
    yield tb
    tb.clear()
    del tb
    gc.collect()


@pytest.fixture
def testbed(_session_testbed: Any) -> Iterator[Any]:
    """An empty umockdev Testbed; FAILS (never skips) when the umockdev preload is missing."""
    import pyudev
    from gi.repository import GLib

    _session_testbed.clear()
    if GLib.getenv("UMOCKDEV_DIR") != _session_testbed.get_root_dir():
        pytest.fail("UMOCKDEV_DIR is not the session testbed's (was a Testbed destroyed?)", False)
    leaked = [d.sys_path for d in pyudev.Context().list_devices()]
    if leaked:
        pytest.fail(f"the umockdev testbed is not in effect; udev shows {leaked[:3]}", False)
    yield _session_testbed
    _session_testbed.clear()


@pytest.fixture
async def emu() -> AsyncIterator[MediaMTXEmulator]:
    """A MediaMTX Control API emulator on a free port of this event loop."""
    emulator = MediaMTXEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def emulator() -> Iterator[MediaMTXEmulator]:
    """The emulator on a thread of its own: for tests that run camctl commands (each runs
    its own event loop) against it."""
    emu = MediaMTXEmulator()
    with run_in_thread(emu):
        yield emu


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of the examples, free to edit."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "docs"))


@pytest.fixture
def record_path(tmp_path: Path) -> str:
    """A MediaMTX recordPath in camctl's layout under this test's own directory."""
    return f"{tmp_path}/recordings/%path/%Y-%m-%d_%H-%M-%S-%f"
