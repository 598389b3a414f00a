"""The view under load: `streams.list` with 100 streams, WebSocket latency, idle subscribers,
and the old camera service's `get_camera_list` over /ws.

One process runs the controller on the MediaMTX emulator (100 simulated cameras) and its
view; load comes from other processes:

1. `wrk` (Debian) with 32 connections POSTs `streams.list` for a few seconds, first to the
   view (answers cached per snapshot version), then to a naive aiohttp handler in the same
   process that answers the same method from the same snapshot but serialises it with
   `json` on every request. Requests per second, p99, their ratio, and the CPU time this
   process spent per request (less noisy than requests per second on a shared machine).
2. A WebSocket client subscribes; MediaMTX's runtime is changed (a reader joins a path) and
   a pass is triggered: the time from the view's publish (the status change) to the
   notification arriving, and from the trigger (the pass included) to it. Medians.
3. 200 subscribed WebSocket clients, from a child process, stay idle: the server's resident
   memory (VmRSS) with them minus without them, per subscriber.
4. The old service's clients: a child process opens 1, 8, 32 and 64 connections to /ws,
   authenticates each as they do, then each asks `get_camera_list` (100 cameras) again as
   soon as it has the answer, for a few seconds; the same for camctl's own `cameras.list`
   (the 100 documents) beside it. Requests per second and the median and p99 latency the
   client saw. The per-connection rate limit is lifted for this part only: it measures the
   cost of an answer, not the limit.
5. As many clients as the view accepts at once, from a child process, each sending all the
   headers it may (as long as they may be) without ending them: the server's memory with
   them minus without them, the view's worst case under slow clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.targets import run, verdict
from benchmarks.world import write_world
from controller.reconcile.loop import Timing
from controller.testing.harness import Running, eventually, running
from controller.view.methods import methods
from controller.view.models import ListParams
from controller.view.rpc import Context
from controller.view.server import HttpSession, Limits
from controller.view.ws import WsLimits

STREAMS = 100
CONNECTIONS = 32
DURATION = 5  # seconds of wrk per target
LATENCY_SAMPLES = 40
SUBSCRIBERS = 200
WS_CONNECTIONS = (1, 8, 32, 64)
WS_SECONDS = 3.0
WS_METHODS = ("get_camera_list", "cameras.list")
TARGET_RPS, TARGET_RATIO, TARGET_P99_MS, TARGET_NOTIFY_MS = 5000, 3.0, 10.0, 20.0
TOKEN = "bench-token-0123456789abcdef"
BODY = '{"jsonrpc":"2.0","id":1,"method":"streams.list"}'
QUIET = Timing(resync=3600, poll=3600, drift=3600)
WRK_SCRIPT = f"""
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {TOKEN}"
"""


# --- 1. requests per second ---------------------------------------------------------------


async def naive_server(run: Running) -> tuple[web.AppRunner, str]:
    """streams.list as a straightforward handler would do it: json.dumps on every request."""
    lister = next(m for m in methods() if m.name == "streams.list")

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401)
        message = json.loads(await request.read())
        params = ListParams.model_validate(message.get("params") or {})
        session = HttpSession("viewer")
        context = Context(run.view.state.snapshot, run.view.state, session, run.view.auth)
        result = lister.handler(context, params)
        return web.json_response({"jsonrpc": "2.0", "id": message.get("id"), "result": result})

    app = web.Application()
    app.router.add_post("/rpc", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def wrk(url: str, script: Path) -> tuple[float, float, float]:
    """Requests per second and p99 in milliseconds, from wrk in its own process; and this
    process's CPU time per request in microseconds (the server's: wrk's is not in it)."""
    cpu = time.process_time()
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", str(script),
        f"{url}/rpc", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await process.communicate())[0].decode()
    cpu = time.process_time() - cpu
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    done = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not rps or not p99 or not done or errors:
        raise RuntimeError(f"wrk said:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rps.group(1)), float(p99.group(1)) * scale, cpu / int(done.group(1)) * 1e6


async def throughput(run: Running, root: Path) -> dict[str, float]:
    script = root / "post.lua"
    script.write_text(WRK_SCRIPT)
    runner, naive_url = await naive_server(run)
    try:
        await wrk(run.url, script)  # warm up the view's cache and connections
        view_rps, view_p99, view_us = await wrk(run.url, script)
        naive_rps, naive_p99, naive_us = await wrk(naive_url, script)
    finally:
        await runner.cleanup()
    return {
        "view": view_rps,
        "view_p99": view_p99,
        "view_us": view_us,
        "naive": naive_rps,
        "naive_p99": naive_p99,
        "naive_us": naive_us,
    }


# --- 2. status change -> notification ------------------------------------------------------


async def notification_latency(run: Running) -> tuple[float, float]:
    published, triggered = [], []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{run.url}/rpc/ws", headers={"Authorization": f"Bearer {TOKEN}"}) as ws,
    ):
        await ws.send_str('{"jsonrpc":"2.0","id":1,"method":"events.subscribe",'
                          '"params":{"kinds":["Stream"]}}')  # fmt: skip
        await ws.receive_str()
        for i in range(LATENCY_SAMPLES):
            readers = [{"type": "rtspSession", "id": str(n)} for n in range(i % 2 + 1)]
            await quiet(ws)  # live video moves every Stream's counters: old news first
            run.emulator.runtime["cams/cam-00000"] = {"readers": readers}
            started = time.perf_counter()
            run.controller.trigger("bench: a reader came")
            while not _about(json.loads(await asyncio.wait_for(ws.receive_str(), 10)), readers):
                pass  # another Stream's counters, moved in the same pass
            received = time.perf_counter()
            published.append((received - run.view.state.published_at) * 1000)
            triggered.append((received - started) * 1000)
    return statistics.median(published), statistics.median(triggered)


def _about(message: dict[str, Any], readers: list[Any]) -> bool:
    """Whether the notification tells of the reader change made on cam-00000."""
    event = message["params"]["event"]
    return bool(
        event["name"] == "cam-00000" and event["object"]["status"]["readers"] == len(readers)
    )


async def quiet(ws: aiohttp.ClientWebSocketResponse, for_s: float = 0.2) -> None:
    """Read notifications until none came for `for_s` seconds."""
    with contextlib.suppress(TimeoutError):
        while True:
            await asyncio.wait_for(ws.receive_str(), for_s)


# --- 3. idle subscribers -------------------------------------------------------------------

CLIENTS = """
import asyncio, sys, aiohttp
async def main(url, token, n):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        sockets = [await s.ws_connect(url, headers={"Authorization": "Bearer " + token})
                   for _ in range(n)]
        for ws in sockets:
            await ws.send_str('{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}')
            await ws.receive_str()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


async def settled_rss(run: Running, connections: int) -> int:
    await eventually(lambda: len(run.view.state.listeners) == connections, 30)
    await asyncio.sleep(0.5)
    gc.collect()
    return rss_kib()


async def idle_memory(run: Running) -> float:
    before = await settled_rss(run, 0)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENTS, f"{run.url}/rpc/ws", TOKEN, str(SUBSCRIBERS),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    if child.stdout is None or child.stdin is None:
        raise RuntimeError("the subscribers' process has no pipes")
    try:
        await asyncio.wait_for(child.stdout.readline(), 60)
        after = await settled_rss(run, SUBSCRIBERS)
    finally:
        child.stdin.write(b"\n")
        await child.wait()
    return (after - before) / SUBSCRIBERS


# --- 4. the old service's get_camera_list over /ws ----------------------------------------------

OLD_CLIENTS = """
import asyncio, json, statistics, sys, time, aiohttp
async def main(url, token, method, n, seconds):
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method})
    hello = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "authenticate",
                        "params": {"auth_token": token}})
    latencies, failed = [], 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        sockets = [await s.ws_connect(url, max_msg_size=0) for _ in range(n)]
        for ws in sockets:
            await ws.send_str(hello)
            assert json.loads(await ws.receive_str())["result"]["authenticated"]
        deadline = time.perf_counter() + seconds
        async def ask(ws):
            nonlocal failed
            while (started := time.perf_counter()) < deadline:
                await ws.send_str(request)
                answer = await ws.receive_str()
                latencies.append(time.perf_counter() - started)
                failed += not answer.startswith('{"jsonrpc":"2.0","id":1,"result"')
        began = time.perf_counter()
        await asyncio.gather(*(ask(ws) for ws in sockets))
        elapsed = time.perf_counter() - began
        for ws in sockets:
            await ws.close()
    latencies.sort()
    print(json.dumps({"rps": len(latencies) / elapsed, "failed": failed,
                      "p50": 1000 * statistics.median(latencies),
                      "p99": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}))
asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
"""


async def old_clients(run: Running, method: str, connections: int) -> dict[str, float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OLD_CLIENTS, f"{run.url}/ws", TOKEN, method, str(connections),
        str(WS_SECONDS), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await child.communicate()
    result: dict[str, float] = json.loads(out)
    if child.returncode or result["failed"]:
        raise RuntimeError(f"{method} over /ws: {result}")
    return result


async def legacy_list(run: Running) -> dict[tuple[str, int], dict[str, float]]:
    await old_clients(run, "get_camera_list", 8)  # warm up: caches, connections
    return {
        (method, n): await old_clients(run, method, n)
        for n in WS_CONNECTIONS
        for method in WS_METHODS
    }


# --- 5. slow clients at the cap -----------------------------------------------------------

SLOW_CLIENTS = """
import socket, sys
host, port, count, headers, size = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
head = b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n" + b"".join(
    b"X-%d: %s\\r\\n" % (i, b"a" * size) for i in range(headers))
held = [socket.create_connection((host, port)) for _ in range(count)]
for sock in held:
    sock.sendall(head)
print("ready", flush=True)
sys.stdin.readline()
"""


async def slow_header_memory(run: Running) -> tuple[int, int, int, float]:
    """Clients, headers each, bytes per header, and the server's growth in MiB."""
    listener, limits = run.view.listener, run.view.limits
    assert listener is not None
    count, headers, size = listener.capacity, limits.max_headers - 1, limits.max_field_size - 16
    await eventually(lambda: listener.open == 0, 30)
    gc.collect()
    before = rss_kib()
    host, port = run.url.removeprefix("http://").rsplit(":", 1)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SLOW_CLIENTS, host, port, str(count), str(headers), str(size),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout and child.stdin
    try:
        await asyncio.wait_for(child.stdout.readline(), 60)
        await eventually(lambda: listener.open == count, 30)
        await asyncio.sleep(0.5)  # well inside the header timeout
        gc.collect()
        after = rss_kib()
    finally:
        child.stdin.write(b"\n")
        await child.wait()
    return count, headers, size, (after - before) / 1024


# --- report --------------------------------------------------------------------------------


async def measure(root: Path) -> dict[str, Any]:
    devices = write_world(root, STREAMS)
    docs = root / "docs"
    tokens = root / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    tokens.chmod(0o600)
    async with running(docs, devices, root / "state", token_file=tokens, timing=QUIET) as run:
        await run.settle()
        if (streams := len(run.view.state.snapshot.docs["Stream"])) != STREAMS:
            raise RuntimeError(f"the view shows {streams} streams, not {STREAMS}")
        results: dict[str, Any] = await throughput(run, root)
        assert run.view.budget is not None
        results["budget"] = run.view.budget.describe()
        results["published_ms"], results["triggered_ms"] = await notification_latency(run)
        results["kib_per_subscriber"] = await idle_memory(run)
        results["slow_headers"] = await slow_header_memory(run)
    unlimited = Limits(ws=WsLimits(rate=1e9))
    async with running(
        docs, devices, root / "state", token_file=tokens, timing=QUIET, limits=unlimited
    ) as run:
        await run.settle()
        results["legacy"] = await legacy_list(run)
    return results


def report(r: dict[str, Any]) -> None:
    ratio = r["view"] / r["naive"]
    print(f"view: streams.list, {STREAMS} streams, wrk {CONNECTIONS} connections, {DURATION} s")
    print(f"  in force: {r['budget']}")
    for name, key in (("cached view", "view"), ("naive handler", "naive")):
        print(f"  {name:15s} {r[key]:8.0f} req/s   p99 {r[f'{key}_p99']:6.2f} ms   "
              f"CPU {r[f'{key}_us']:5.0f} us a request")  # fmt: skip
    print(f"  >= {TARGET_RPS} req/s: {verdict(r['view'] >= TARGET_RPS, 'view: req/s')}; "
          f"p99 < {TARGET_P99_MS:.0f} ms: {verdict(r['view_p99'] < TARGET_P99_MS, 'view: p99')}; "
          f"{ratio:.1f}x naive (>= {TARGET_RATIO:.0f}x): "
          f"{verdict(ratio >= TARGET_RATIO, 'view: ratio to naive')}")  # fmt: skip
    notified = verdict(r["published_ms"] < TARGET_NOTIFY_MS, "view: notification")
    print(f"  status change -> WebSocket notification: median {r['published_ms']:.2f} ms "
          f"(< {TARGET_NOTIFY_MS:.0f} ms: {notified}); "
          f"from the trigger, the pass included: {r['triggered_ms']:.2f} ms")  # fmt: skip
    print(f"  {SUBSCRIBERS} idle subscribers: {r['kib_per_subscriber']:.1f} KiB each")
    print(f"  over /ws, {STREAMS} cameras, {WS_SECONDS:.0f} s each (req/s, median/p99 ms):")
    for n in WS_CONNECTIONS:
        old, own = (r["legacy"][(m, n)] for m in WS_METHODS)
        ratio = old["rps"] / own["rps"]
        print(f"    {n:2d} connections: get_camera_list {old['rps']:7.0f} "
              f"{old['p50']:5.2f}/{old['p99']:5.2f}   cameras.list {own['rps']:7.0f} "
              f"{own['p50']:5.2f}/{own['p99']:5.2f}   ratio {ratio:.2f}")  # fmt: skip
    count, headers, size, mib = r["slow_headers"]
    print(f"  {count} clients holding {headers} unfinished headers of {size} bytes: {mib:.0f} MiB")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="camctl-bench-view-") as root:
        report(asyncio.run(measure(Path(root))))


if __name__ == "__main__":
    raise SystemExit(run(main))
