"""`make demo` (`camctl demo`) end to end: a real process, from the repository root, offline.

It must apply and converge the examples against the emulator, go live, count the segments
the emulator writes for the Recordings, see the network camera connected, and stop on Ctrl-C
with exit 0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def read_until(out: IO[str], pattern: str, seen: list[str], timeout: float = 60) -> re.Match[str]:
    """Lines of `out` up to one matching `pattern` (kept in `seen`, for failure messages)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = out.readline()
        if not line:
            break
        seen.append(line)
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no {pattern!r} in:\n{''.join(seen)[-3000:]}")


def recording_status(state: Path, name: str, kind: str = "Recording") -> dict[str, object]:
    path = state / "status" / kind / "default" / f"{name}.json"
    try:
        status: dict[str, object] = json.loads(path.read_text())["status"]
    except (OSError, ValueError):
        return {}
    return status


def test_demo_converges_goes_live_records_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # no udev: simulated
    demo = subprocess.Popen(
        [sys.executable, "-m", "controller", "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert demo.stdout is not None
        state = Path(read_until(demo.stdout, r"state in (\S+)", seen)[1])
        read_until(demo.stdout, r"add cams/gate: ok", seen)  # the network camera
        read_until(demo.stdout, r"API writes: 4 \(one per path", seen)
        read_until(demo.stdout, r"Now live", seen)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a segment every 2 s, seen at the next pass
            segments = recording_status(state, "front-door").get("segments")
            if isinstance(segments, dict) and segments.get("count", 0) >= 1:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no segments counted:\n{''.join(seen)[-3000:]}")
        files = list((state / "recordings" / "cams" / "front-door").glob("*.mp4"))
        assert files and files[0].stat().st_size > 1000
        gate = recording_status(state, "gate", "Camera")
        ready = next(c for c in gate["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("True", "Connected"), gate
        demo.send_signal(signal.SIGINT)
        assert demo.wait(10) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
