"""How this controller runs: the settings every layer reads (its node, device names, ports,
the roots Recordings may use). Made once, from the command line or the environment."""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.kinds import DeviceLink

# MediaMTX's ./recordings when it runs in /var/lib/mediamtx, as its systemd unit here does.
DEFAULT_RECORDINGS_ROOT = "/var/lib/mediamtx/recordings"
# Where network cameras' credential files are; systemd's $CREDENTIALS_DIRECTORY is added.
DEFAULT_CREDENTIALS_ROOT = "/etc/camctl/credentials"


@dataclass(frozen=True)
class Settings:
    node_name: str | None = None
    device_link: DeviceLink = "byId"
    public_host: str = "127.0.0.1"
    rtsp_port: int = 8554
    hls_port: int = 8888
    webrtc_port: int = 8889
    playback_port: int = 9996
    allow_empty: bool = False
    # The only directories Recordings may write to and camctl reads; the first is the default.
    recordings_roots: tuple[str, ...] = (DEFAULT_RECORDINGS_ROOT,)
    disk_low_percent: float = 10.0  # DiskLow when less of the recordings' disk is free
    # The only directories credential files (Camera spec.credentials.file) are read from.
    credentials_roots: tuple[str, ...] = (DEFAULT_CREDENTIALS_ROOT,)
    # Flap damping: a camera whose device comes or goes more than `flap_changes` times
    # within `flap_window` seconds is ignored until it has stayed put for `flap_hold_down`.
    flap_changes: int = 6
    flap_window: float = 120.0
    flap_hold_down: float = 30.0
