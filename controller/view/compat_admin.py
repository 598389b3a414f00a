"""The read-only information the old camera service gave its admins, from what camctl knows.

`get_metrics`, `get_status`, `get_server_info` and `get_storage_info` answer the old shapes
from the snapshot, the view's own counters and the process; `health` judges the components
the old service reported (`mediamtx`, `camera_monitor`, `service_manager`) for both these
calls and its HTTP health paths (compat_http.py). Nothing here writes or reads recordings.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from controller import __version__
from controller.api.recorded import EXTENSIONS
from controller.view.rpc import Context
from controller.view.snapshot import Doc, condition_of
from controller.view.state import ViewState

Status = Literal["healthy", "degraded", "unhealthy"]


# --- health ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """The old service's components, judged from the last pass."""

    mediamtx: bool  # its Control API answered the last pass
    service_manager: bool  # the controller has finished a pass
    camera_monitor: bool  # devices are being read (each pass reads them)
    troubled: bool  # the last pass reported errors: file errors, failed writes
    cameras: str  # "3 cameras: 2 connected, 1 disconnected"
    mediamtx_details: str
    manager_details: str

    @property
    def status(self) -> Status:
        if not (self.mediamtx and self.service_manager and self.camera_monitor):
            return "unhealthy"
        return "degraded" if self.troubled else "healthy"


def health(state: ViewState) -> Health:
    snapshot, cameras = state.snapshot, list(state.compat.cameras.values())
    c = snapshot.controller
    connected = sum(o["status"] == "CONNECTED" for o in cameras)
    reachable = bool(c.get("mediamtxReachable"))
    version = f" (version {c['mediamtxVersion']})" if c.get("mediamtxVersion") else ""
    mediamtx = f"MediaMTX API reachable{version}" if reachable else "MediaMTX API not reachable"
    errors = len(c.get("errors") or [])
    manager = "camctl controller: no pass has finished yet"
    if snapshot.ready:
        manager = (
            f"camctl controller: {c.get('passes', 0)} passes, last success "
            f"{c.get('lastSuccess') or 'never'}, {errors} error(s)"
        )
    return Health(
        mediamtx=reachable,
        service_manager=snapshot.ready,
        camera_monitor=snapshot.ready,
        troubled=errors > 0,
        cameras=f"{len(cameras)} cameras: {connected} connected, "
        f"{len(cameras) - connected} disconnected",
        mediamtx_details=mediamtx,
        manager_details=manager,
    )


def timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- the calls -------------------------------------------------------------------------


def get_metrics(ctx: Context) -> Doc:
    """Connections and calls of this view; this process's memory and CPU (percentages of
    the machine's memory and of one core over the process's life). camctl does not time its
    answers: `average_response_time` is null."""
    tally = ctx.tally
    return {
        "active_connections": len(ctx.state.listeners),
        "total_requests": tally.answered,
        "average_response_time": None,
        "error_rate": round(tally.failed / tally.answered, 4) if tally.answered else 0.0,
        "memory_usage": round(100 * _resident_bytes() / _machine_memory(), 2),
        "cpu_usage": round(_cpu_percent(ctx.snapshot.controller.get("started")), 2),
    }


def get_status(ctx: Context) -> Doc:
    h = health(ctx.state)
    running = {True: "running", False: "stopped"}
    return {
        "status": h.status,
        "uptime": int(seconds_since(ctx.snapshot.controller.get("started"))),
        "version": __version__,
        "components": {
            "websocket_server": "running",
            "camera_monitor": running[h.camera_monitor],
            "mediamtx_controller": "running" if h.mediamtx else "error",
        },
    }


def get_server_info(ctx: Context) -> Doc:
    return {
        "name": "camctl",
        "version": __version__,
        "capabilities": ["streaming", "recordings"],  # no snapshots: camctl takes none
        "supported_formats": [ext.lstrip(".") for ext in EXTENSIONS.values()],
        "max_cameras": None,  # no limit of its own
    }


def get_storage_info(ctx: Context) -> Doc:
    """The file systems of the Recordings' roots (each counted once, told apart by size) as
    the last pass measured them, the bytes of the segments it found there, and whether any
    Recording says DiskLow. Unknown (no Recording's disk was measured): null."""
    recorded = ctx.snapshot.recorded
    disks = {f.disk.total: f.disk for f in recorded.files.values() if f.disk is not None}
    total = sum(d.total for d in disks.values())
    free = sum(d.free for d in disks.values())
    low = any(
        (condition_of(r, "DiskLow") or {}).get("status") == "True"
        for r in ctx.snapshot.docs["Recording"]
    )
    return {
        "total_space": total if disks else None,
        "used_space": total - free if disks else None,
        "available_space": free if disks else None,
        "usage_percentage": round(100 * (total - free) / total, 1) if total else None,
        "recordings_size": sum(s.size or 0 for f in recorded.seen.values() for s in f.segments),
        "snapshots_size": 0,
        "low_space_warning": low,
    }


# --- the process -----------------------------------------------------------------------


def seconds_since(started: object) -> float:
    if not isinstance(started, str):
        return 0.0
    try:
        when = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if when.tzinfo is None:
        when = when.astimezone()
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


def _cpu_percent(started: object) -> float:
    """CPU time over the process's age (/proc), else over the controller's."""
    times = os.times()
    wall = _process_age() or seconds_since(started)
    return 100 * (times.user + times.system) / wall if wall > 0 else 0.0


def _process_age() -> float | None:
    try:
        with open("/proc/self/stat", "rb") as stat, open("/proc/uptime", "rb") as uptime:
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])  # field 22: starttime
            booted = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return booted - ticks / os.sysconf("SC_CLK_TCK")


def _resident_bytes() -> int:
    """Resident memory now (/proc/self/statm), else the peak getrusage reports."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _machine_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") or 1


__all__ = ["Health", "get_metrics", "get_server_info", "get_status", "get_storage_info", "health"]
