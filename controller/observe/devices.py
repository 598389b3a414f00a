"""Where device facts come from: udev (with hotplug), or a simulation file (with edits).

Both give the controller the same two things: the devices now, and a way to be woken
when they change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pyudev

from controller.api.device import Device
from controller.kit.watch import WatchGroup, watch_paths
from controller.observe import v4l2
from controller.observe.v4l2_modes import ModeCache

log = logging.getLogger(__name__)


class DeviceSource(Protocol):
    def current(self) -> list[Device]: ...

    async def watch(self, notify: Callable[[str], None]) -> None: ...


class UdevDevices:
    """The V4L2 capture nodes udev knows, with their modes; woken by udev's uevents."""

    _context: pyudev.Context | None = None
    _modes: ModeCache | None = None

    def current(self) -> list[Device]:
        return v4l2.enumerate_devices(self.context, self.modes)

    async def watch(self, notify: Callable[[str], None]) -> None:
        await v4l2.watch_udev(notify, self.context)

    @property
    def context(self) -> pyudev.Context:
        # One Context for the process: making one loads libudev through ctypes.util.find_library,
        # which runs `ldconfig -p` (a fork) every time.
        if self._context is None:
            self._context = pyudev.Context()
        return self._context

    @property
    def modes(self) -> ModeCache:
        """Modes read once per device appearance, not at every pass."""
        if self._modes is None:
            self._modes = ModeCache()
        return self._modes


class SimulatedDevices:
    """Device facts from a YAML file; editing the file plugs and unplugs cameras.

    A broken edit keeps the last good list, like a broken document file does.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last_good: list[Device] = []
        self._last_read: bytes | None = None
        self.error: str | None = None

    def current(self) -> list[Device]:
        try:
            data = self.path.read_bytes()
        except OSError:
            data = None
        if data is not None and data == self._last_read and self.error is None:
            return self._last_good  # unchanged since the last good read: no parse
        try:
            self._last_good = v4l2.load_simulated(self.path)
            self._last_read = data
            self.error = None
        except ValueError as exc:
            if self.error != str(exc):
                log.error("%s (keeping the last good device list)", exc)
            self.error = str(exc)
        return self._last_good

    async def watch(self, notify: Callable[[str], None]) -> None:
        await watch_paths([self.watch_group], notify)

    @property
    def watch_group(self) -> WatchGroup:
        return [self.path], "devices"
