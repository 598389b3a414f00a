"""Where device facts come from: udev (with hotplug), or a simulation file (with edits).

Both give the controller the same two things: the devices now, and a way to be woken
when they change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from controller.api.device import Device
from controller.observe import v4l2
from controller.sources.files import watch_paths

log = logging.getLogger(__name__)


class DeviceSource(Protocol):
    def current(self) -> list[Device]: ...

    async def watch(self, notify: Callable[[str], None]) -> None: ...


class UdevDevices:
    """The V4L2 capture nodes udev knows; woken by udev's uevents."""

    def current(self) -> list[Device]:
        return v4l2.enumerate_devices()

    async def watch(self, notify: Callable[[str], None]) -> None:
        await v4l2.watch_udev(notify)


class SimulatedDevices:
    """Device facts from a YAML file; editing the file plugs and unplugs cameras.

    A broken edit keeps the last good list, like a broken document file does.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last_good: list[Device] = []
        self.error: str | None = None

    def current(self) -> list[Device]:
        try:
            self._last_good = v4l2.load_simulated(self.path)
            self.error = None
        except ValueError as exc:
            if self.error != str(exc):
                log.error("%s (keeping the last good device list)", exc)
            self.error = str(exc)
        return self._last_good

    async def watch(self, notify: Callable[[str], None]) -> None:
        await watch_paths([self.path], notify, "devices")
