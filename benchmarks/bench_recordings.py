"""recordings.segments over 10,000 real segments: `python -m benchmarks.bench_recordings`.

One Recording with 10,000 one-minute fmp4 segments (hard links of one ffmpeg-made clip, made by
controller.testing.recordings.write_segments(link=True)) under a recordings root; the controller
runs on the MediaMTX emulator with its view. Over HTTP, one request at a time, the median and
p99 of `recordings.segments` for
1. the newest page of 100, deep in the list (offset 9,900) and a since/until window (an hour in
   the middle), each the first request after a new snapshot (uncached: the view's refresh()
   makes a new snapshot version, which drops the answer cache), and
2. the same requests again (answered from the cache);
and the view's refresh() itself (its snapshot keeps the pass's segment tuples, copying none).
Then the pass side: SegmentScanner.scan of the 10,000 segments with a cold scanner (a new one
each time: a scandir and a stat per file) and with a warm one (the directory unchanged).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.bench_view import QUIET, TOKEN
from benchmarks.targets import run
from benchmarks.world import write_world
from controller.api.settings import Settings
from controller.observe.recordings import SegmentScanner
from controller.testing.harness import Running, running
from controller.testing.recordings import write_segments

SEGMENTS = 10_000
PAGE = 100
UNCACHED_SAMPLES = 200
CACHED_SAMPLES = 1000
COLD_SCANS, WARM_SCANS = 20, 1000
PATH = "cams/cam-00000"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MIDDLE = T0 + timedelta(minutes=SEGMENTS // 2)
CASES: dict[str, dict[str, Any]] = {
    "newest page of 100": {},
    f"offset {SEGMENTS - PAGE}": {"offset": SEGMENTS - PAGE},
    "since/until, 1 hour": {
        "since": MIDDLE.isoformat(),
        "until": (MIDDLE + timedelta(hours=1)).isoformat(),
    },
}


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and p99, in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def write_recordings(root: Path) -> Path:
    """The segments, and their directory's mtime put back so that scanners may cache it."""
    starts = [T0 + timedelta(minutes=i) for i in range(SEGMENTS)]
    files = write_segments(root, PATH, "fmp4", starts, 60.0, link=True)
    past = time.time() - 3600
    os.utime(files[0].parent, (past, past))
    return files[0].parent


# --- the view ------------------------------------------------------------------------------


async def timed_call(http: aiohttp.ClientSession, url: str, body: bytes) -> float:
    started = time.perf_counter()
    async with http.post(url, data=body) as response:
        data = await response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200 or b'"error"' in data[:40]:
        raise RuntimeError(f"recordings.segments failed: {data[:300]!r}")
    return elapsed


async def requests(run: Running, params: dict[str, Any]) -> dict[str, tuple[float, float]]:
    report = run.controller.report
    assert report is not None
    call = {"name": "cam-00000", "limit": PAGE} | params
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "recordings.segments", "params": call})
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    uncached, cached = [], []
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{run.url}/rpc"
        await timed_call(http, url, body.encode())  # warm up the connection
        for _ in range(UNCACHED_SAMPLES):
            await run.view.state.publish(report)  # a new snapshot version: nothing cached
            uncached.append(await timed_call(http, url, body.encode()))
        for _ in range(CACHED_SAMPLES):
            cached.append(await timed_call(http, url, body.encode()))
    return {"uncached": percentiles(uncached), "cached": percentiles(cached)}


async def measure_view(root: Path) -> dict[str, Any]:
    devices = write_world(root, 1)
    docs = root / "docs"
    tokens = root / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    tokens.chmod(0o600)
    settings = Settings(node_name="edge-01", recordings_roots=(str(root / "recordings"),))
    options: dict[str, Any] = {"token_file": tokens, "timing": QUIET, "settings": settings}
    async with running(docs, devices, root / "state", **options) as run:
        found = run.view.state.snapshot.recorded.total
        if found != SEGMENTS:
            raise RuntimeError(f"the pass found {found} segments, not {SEGMENTS}")
        results: dict[str, Any] = {n: await requests(run, p) for n, p in CASES.items()}
        report = run.controller.report
        assert report is not None
        results["refresh"] = timed(lambda: run.view.state.refresh(report), UNCACHED_SAMPLES)
        return results


# --- the pass ------------------------------------------------------------------------------


def timed(work: Callable[[], object], times: int) -> tuple[float, float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def measure_scan(root: Path) -> dict[str, tuple[float, float]]:
    def scan(scanner: SegmentScanner) -> None:
        files = scanner.scan(str(root), PATH, "fmp4")
        if len(files.segments) != SEGMENTS:
            raise RuntimeError(f"scanned {len(files.segments)} segments: {files.error}")

    warm = SegmentScanner([str(root)])
    scan(warm)
    return {
        "cold": timed(lambda: scan(SegmentScanner([str(root)])), COLD_SCANS),
        "warm": timed(lambda: scan(warm), WARM_SCANS),
    }


# --- report --------------------------------------------------------------------------------


def report(view: dict[str, Any], scan: dict[str, Any]) -> None:
    print(f"recordings.segments, {SEGMENTS:,} segments, over HTTP, one request at a time")
    print(f"  {'':22} {'uncached median':>16} {'p99':>8} {'cached median':>15} {'p99':>8}")
    for name in CASES:
        (um, up), (cm, cp) = view[name]["uncached"], view[name]["cached"]
        print(f"  {name:22} {um:13.2f} ms {up:5.2f} ms {cm:12.2f} ms {cp:5.2f} ms")
    print(f"  the view's snapshot after a pass (refresh): median {view['refresh'][0]:.2f} ms")
    (cm, cp), (wm, wp) = scan["cold"], scan["warm"]
    print(f"  SegmentScanner.scan, {SEGMENTS:,} segments: cold median {cm:.1f} ms (p99 "
          f"{cp:.1f} ms), warm median {wm:.3f} ms (p99 {wp:.3f} ms)")  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="camctl-bench-recordings-") as directory:
        root = Path(directory)
        write_recordings(root / "recordings")
        view = asyncio.run(measure_view(root))
        report(view, measure_scan(root / "recordings"))


if __name__ == "__main__":
    raise SystemExit(run(main))
