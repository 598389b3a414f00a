"""An idle `camctl run` with 10 simulated cameras: its memory, CPU and wake-ups.

Two real processes, as on an edge box: the MediaMTX emulator
(`python -m controller.testing.mediamtx --port N`) and `python -m controller run DOCS
--simulate-devices DEVICES` (the `camctl run` entry point), with 10 Cameras, Streams and
Recordings generated in a temporary folder. Once all 10 paths exist and the start-up passes
are over, the controller is left alone for one resync period. What an idle controller costs:
its RSS (VmRSS, and the peak VmHWM, from /proc/PID/status), its CPU (the run time of each
thread, /proc/PID/task/TID/schedstat, in nanoseconds), and how often it wakes: the voluntary
context switches of each thread (/proc/PID/task/TID/status), summed over all threads. Idle
is not asleep: it still looks at MediaMTX every 5 s and makes a full pass every 30 s; the
documents and the devices file are watched by inotify, which wakes nothing while nothing
changes.

A calibration line in the same run shows what a bare thread waking every 20 ms (the period
of the polling file watcher camctl had before) costs on this machine right now.

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
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.targets import run, verdict
from benchmarks.world import write_world

CAMERAS = 10
SETTLE = 3.0  # after convergence: the first MediaMTX poll wakes one more pass at ~1 s
WINDOW = 30.0  # seconds of idle sampled: one resync period
RSS_TARGET_MB = 60.0
CPU_TARGET = 0.1  # percent of one core
WAKE_TARGET = 2.0  # voluntary context switches a second, all threads summed
TICK = 0.02  # the calibration thread's period


@dataclass(frozen=True)
class Sample:
    """One thread's counters at one moment."""

    name: str
    switches: int  # voluntary context switches: the thread blocked, then woke
    cpu_ns: int  # time on a CPU (schedstat)


def threads(pid: int) -> dict[int, Sample]:
    """Every thread of `pid` now, by thread id (threads that end meanwhile are left out)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            cpu_ns = int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        switches = int(fields["voluntary_ctxt_switches"])
        name = "main thread, the event loop" if task.name == str(pid) else fields["Name"].strip()
        found[int(task.name)] = Sample(name, switches, cpu_ns)
    return found


@dataclass(frozen=True)
class Usage:
    """Per thread name, over a window: wake-ups a second and percent of a core."""

    seconds: float
    per_thread: dict[str, tuple[float, float]]

    @property
    def switches(self) -> float:
        return sum(s for s, _ in self.per_thread.values())

    @property
    def cpu(self) -> float:
        return sum(c for _, c in self.per_thread.values())


def usage(before: dict[int, Sample], after: dict[int, Sample], seconds: float) -> Usage:
    """What each thread did between two samples; a thread born meanwhile counts from zero."""
    per: dict[str, tuple[float, float]] = {}
    for tid, end in after.items():
        begin = before.get(tid, Sample(end.name, 0, 0))
        label = f"{end.name} ({tid})"
        per[label] = (
            (end.switches - begin.switches) / seconds,
            (end.cpu_ns - begin.cpu_ns) / 1e9 / seconds * 100,
        )
    return Usage(seconds, per)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


def bare_thread(seconds: float = 10.0) -> Usage:
    """A thread of this process doing nothing but sleep `TICK` at a time: the calibration.

    On a virtual machine one wake-up costs tens of microseconds and varies with the host's
    load, so the controller's figures are shown beside this one, measured in the same run."""
    tid: list[int] = []
    started = threading.Event()

    def run() -> None:
        tid.append(threading.get_native_id())
        started.set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(TICK)

    thread = threading.Thread(target=run, name="bare-20ms")
    thread.start()
    started.wait()
    me = os.getpid()
    before, start = threads(me), time.monotonic()
    time.sleep(seconds - 0.5)
    after, elapsed = threads(me), time.monotonic() - start
    thread.join()
    return usage({tid[0]: before[tid[0]]}, {tid[0]: after[tid[0]]}, elapsed)


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
                before, rss, start = threads(ctl.pid), [], time.monotonic()
                while time.monotonic() - start < WINDOW:
                    time.sleep(1.0)
                    rss.append(status_value(ctl.pid, "VmRSS") / 1024)
                idle = usage(before, threads(ctl.pid), time.monotonic() - start)
                peak = status_value(ctl.pid, "VmHWM") / 1024
    calibration = bare_thread()
    report(converged, statistics.median(rss), peak, idle, calibration)


def report(converged: float, rss: float, peak: float, idle: Usage, bare: Usage) -> None:
    print(
        f"idle: `camctl run` (python -m controller run) with {CAMERAS} simulated cameras, "
        f"against the emulator in another process; converged {converged:.1f} s after start"
    )
    print(
        f"  idle RSS: median {rss:.1f} MB over {idle.seconds:.0f} s (peak VmHWM {peak:.1f} MB; "
        f"target <= {RSS_TARGET_MB:.0f} MB: {verdict(rss <= RSS_TARGET_MB, 'idle RSS')})"
    )
    print(
        f"  idle wake-ups: {idle.switches:.2f} voluntary context switches/s, all "
        f"{len(idle.per_thread)} threads summed (target <= {WAKE_TARGET:g}/s: "
        f"{verdict(idle.switches <= WAKE_TARGET, 'idle wake-ups')})"
    )
    print(
        f"  idle CPU: {idle.cpu:.3f}% of one core (run time of all threads; target <= "
        f"{CPU_TARGET:g}%: {verdict(idle.cpu <= CPU_TARGET, 'idle CPU')})"
    )
    ranked = sorted(idle.per_thread.items(), key=lambda item: -item[1][0])
    for name, (switches, cpu) in ranked:
        print(f"    thread {name}: {switches:.2f} switches/s, {cpu:.3f}% CPU")
    ((switches, cpu),) = bare.per_thread.values()
    print(
        f"  calibration: a bare thread sleeping {TICK * 1e3:.0f} ms at a time makes "
        f"{switches:.1f} switches/s and costs {cpu:.3f}% of a core here right now"
    )


if __name__ == "__main__":
    raise SystemExit(run(main))
