"""An idle `camctl run` with 10 simulated cameras: its resident memory and its CPU.

Two real processes, as on an edge box: the MediaMTX emulator
(`python -m controller.testing.mediamtx --port N`) and `python -m controller run DOCS
--simulate-devices DEVICES` (the `camctl run` entry point), with 10 Cameras, Streams and
Recordings generated in a temporary folder. Once all 10 paths exist and the start-up passes
are over, the controller is left alone for a while: its RSS (VmRSS, and the peak VmHWM, from
/proc/PID/status) and its CPU (utime + stime from /proc/PID/stat, over the whole window) are
what an idle controller costs. Idle is not asleep: it still polls MediaMTX every second,
compares the path configs every 5 s, and watches two folders (documents and devices).

The controller's environment drops LD_PRELOAD, so under `umockdev-wrapper` it is measured
without umockdev's library, as it runs in production.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.targets import run, verdict
from benchmarks.world import write_world

CAMERAS = 10
SETTLE = 3.0  # after convergence: the first MediaMTX poll wakes one more pass at ~1 s
WINDOW = 30.0  # seconds of idle sampled
RSS_TARGET_MB, CPU_TARGET = 60.0, 0.5  # MB resident, percent of one core
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold ')'
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of proc(5)


def status_value(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, its output in `log`; SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def wait_for(url: str, paths: int, child: subprocess.Popen[bytes], log: Path) -> float:
    """Seconds until MediaMTX at `url` has `paths` path configs."""
    start = time.monotonic()
    while time.monotonic() - start < 30:
        if child.poll() is not None:
            raise RuntimeError(f"exited with {child.returncode}: {log.read_text()[-2000:]}")
        try:
            page = httpx.get(f"{url}/v3/config/paths/list", params={"itemsPerPage": 1000})
            if page.status_code == 200 and page.json()["itemCount"] == paths:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"not {paths} paths within 30 s: {log.read_text()[-2000:]}")


def timer_thread_cost(seconds: float = 10.0, step: float = 0.02) -> float:
    """Percent of a core that a thread doing nothing but wake every `step` costs here now.

    The controller's file watcher wakes every 20 ms; on a virtual machine one wake-up costs
    tens of microseconds and varies with the host's load, so this calibrates the result."""
    used: list[float] = []

    def run() -> None:
        start, cpu = time.monotonic(), time.thread_time()
        while time.monotonic() - start < seconds:
            time.sleep(step)
        used.append(time.thread_time() - cpu)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return used[0] / seconds * 100


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        devices = write_world(root, CAMERAS, per_file=CAMERAS)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        emulator = [sys.executable, "-m", "controller.testing.mediamtx", "--port", str(port)]
        camctl = [
            *(sys.executable, "-m", "controller", "run", str(root / "docs")),
            *("--mediamtx", url, "--state-dir", str(root / "state")),
            *("--simulate-devices", str(devices)),
        ]
        with process(emulator, env, root / "emulator.log") as emu:
            wait_for(url, 0, emu, root / "emulator.log")
            with process(camctl, env, root / "camctl.log") as ctl:
                converged = wait_for(url, CAMERAS, ctl, root / "camctl.log")
                time.sleep(SETTLE)
                rss, cpu_start, start = [], cpu_seconds(ctl.pid), time.monotonic()
                while time.monotonic() - start < WINDOW:
                    time.sleep(1.0)
                    rss.append(status_value(ctl.pid, "VmRSS") / 1024)
                cpu = (cpu_seconds(ctl.pid) - cpu_start) / (time.monotonic() - start) * 100
                peak = status_value(ctl.pid, "VmHWM") / 1024
                threads = status_value(ctl.pid, "Threads")
    rss_now = statistics.median(rss)
    rss_met = verdict(rss_now < RSS_TARGET_MB, "idle RSS")
    print(
        f"idle: `camctl run` (python -m controller run) with {CAMERAS} simulated cameras, "
        f"against the emulator in another process; converged {converged:.1f} s after start"
    )
    print(
        f"  idle RSS: median {rss_now:.1f} MB over {WINDOW:.0f} s (peak VmHWM {peak:.1f} MB, "
        f"threads: {threads}; target < {RSS_TARGET_MB:.0f} MB: {rss_met})"
    )
    print(
        f"  idle CPU: {cpu:.2f}% of one core over {WINDOW:.0f} s (utime+stime; target < "
        f"{CPU_TARGET:g}%: {verdict(cpu < CPU_TARGET, 'idle CPU')})"
    )
    print(
        f"  for scale: a bare thread waking every 20 ms costs {timer_thread_cost():.2f}% of a "
        "core on this machine right now (the file watcher wakes that often)"
    )


if __name__ == "__main__":
    raise SystemExit(run(main))
