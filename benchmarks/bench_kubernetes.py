"""The Kubernetes operator through the real kopf, against kmock's API emulator (issue 4).

Set up as tests/test_kubernetes.py does, copied to the minimum: a kmock API server with the
three kinds declared (and v1/namespaces, or kopf never starts watching), a MediaMTX emulator,
simulated devices, and `Controller.run` with a `KubernetesSource`, all on one event loop in
this process. Objects are created through the API over HTTP, as a user's kubectl would.

kmock matches each request against every request it has served, so each request costs it
more than the one before (a real API server's do not): after the ~200 requests of 20
latency samples, several times as much as at the first.

1. Latency: with the operator watching and holding one Camera and Stream already (their
   pass's writes done), another Camera and its Stream are created; the time from the first
   POST until the Stream's status with `Ready=True` is stored in kmock. Each sample has an
   API emulator and an operator of its own, so that every sample is served by an emulator
   that has served as many requests, and the median is not that of the emulator's history.
2. Start-up: N Camera+Stream pairs exist before the operator starts; the time from its start
   until every Stream's `Ready=True` is stored, and the process RSS after. As kmock slows as
   requests pile up, N is below the issue's 500 to keep the run short, and the time per
   stream is reported. It takes ~40 s on an idle 2-core machine and longer under load; its
   target is that every Stream gets Ready within STARTUP_WAIT, and otherwise it says how
   many did.

kmock, the MediaMTX emulator and the operator share one process (and one event loop), so RSS
and times include the emulators.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import resource
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp.test_utils
import kmock
import kopf

from benchmarks.targets import measuring, run, verdict
from controller import wiring
from controller.api.device import Device
from controller.api.kinds import GROUP, PLURALS, VERSION
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.loop import Timing
from controller.testing.mediamtx import MediaMTXEmulator

SAMPLES = 20  # latency samples, after one warm-up (each on a fresh API emulator and operator)
LATENCY_TARGET = 0.200  # seconds, median, resource created -> status Ready written
SAMPLE_WAIT = 30.0  # seconds for one latency sample before that measurement gives up
STARTUP_WAIT = 300.0  # seconds for all N Streams to get Ready at start-up (~40 s when idle)
N = 100  # Streams at start-up (the issue asks for 500; kmock's matching is the limit)
ISSUE_N = 500
NODE = "edge-01"
NAMESPACE = "default"
TIMING = Timing(resync=60, poll=60, drift=60, backoff_min=0.05, backoff_max=0.5, settle=0.2)
POLL = 0.001  # how often kmock's store is looked at while waiting


class QuickServer(aiohttp.test_utils.RawTestServer):
    """Stops at once even with watch streams open (as in tests/test_kubernetes.py)."""

    async def _make_runner(self, debug: bool = True, **kwargs: Any) -> Any:
        runner = await super()._make_runner(debug=debug, **kwargs)
        runner._shutdown_timeout = 0.05
        return runner


class Devices:
    """Simulated capture nodes, one per camera name; they never change."""

    def __init__(self, names: list[str]) -> None:
        self.devices = [
            Device(node=f"/dev/video{2 * i}", serial=_serial(name), by_id=f"/dev/v4l/by-id/{name}")
            for i, name in enumerate(names)
        ]

    def current(self) -> list[Device]:
        return list(self.devices)

    async def watch(self, notify: Callable[[str], None]) -> None:
        await asyncio.Event().wait()


def _serial(name: str) -> str:
    return f"SER-{name}"


def _documents(name: str) -> list[dict[str, Any]]:
    """A Camera on this node matching the simulated device `name`, and its Stream."""
    return [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        }
        for kind, spec in (
            ("Camera", {"node": NODE, "match": {"serial": _serial(name)}}),
            ("Stream", {"camera": name, "path": f"cams/{name}"}),
        )
    ]


@dataclass
class Harness:
    cluster: kmock.KubernetesEmulator
    server: kmock.Server
    client: MediaMTXClient
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def create(self, document: dict[str, Any]) -> None:
        url = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURALS[document['kind']]}"
        async with self.server.client.post(url, json=document) as response:
            if response.status != 200:
                raise RuntimeError(f"creating {document['kind']}: {await response.text()}")

    def ready(self, name: str) -> bool:
        key = (kmock.resource(GROUP, VERSION, PLURALS["Stream"]), NAMESPACE, name)
        if key not in self.cluster.objects:
            return False
        status = self.cluster.objects[key].raw.get("status") or {}
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )

    def told(self, name: str, reason: str) -> bool:
        """Whether an Event with `reason` about an object called `name` is stored."""
        return any(
            obj.raw.get("reason") == reason
            and (obj.raw.get("involvedObject") or {}).get("name") == name
            for (res, _, _), obj in self.cluster.objects.items()
            if res == "v1/events" and not obj.deleted
        )

    def watched(self) -> bool:
        watches = [r for r in self.cluster if r.action == kmock.action.WATCH and r.resource]
        return set(PLURALS.values()) <= {r.resource.plural for r in watches if r.resource}

    async def start(self, names: list[str], state: Path) -> Any:
        url = str(self.server.url).rstrip("/")
        source, sink = wiring.kubernetes(
            NODE,
            login=lambda **_: kopf.ConnectionInfo(server=url),
            relist_interval=60,
            first_list_after=0.1,
            conflict_retry=0.05,
            unreachable_retry=0.1,
        )
        settings = Settings(node_name=NODE, public_host="edge-01.example")
        parts = wiring.Parts(source, Devices(names), state, settings, TIMING, sinks=[sink])
        controller = wiring.controller(parts, self.client)
        self.task = asyncio.create_task(controller.run(self.stop))
        return source

    async def stopped(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self.task, 5)


async def until(check: Callable[[], bool], timeout: float, poll: float = POLL) -> bool:
    """Whether `check` came to hold within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


@asynccontextmanager
async def cluster() -> AsyncIterator[Harness]:
    """A fresh kmock API (kinds declared) and MediaMTX emulator; the operator not started."""
    async with kmock.KubernetesEmulator() as emulator:
        emulator.resources["v1/namespaces"] = kmock.ResourceInfo(namespaced=False, kind="Namespace")
        for kind, plural in PLURALS.items():
            emulator.resources[f"{GROUP}/{VERSION}/{plural}"] = kmock.ResourceInfo(
                namespaced=True, kind=kind, subresources={"status"}, verbs={"list", "watch"}
            )
        emu = MediaMTXEmulator()
        await emu.start()
        try:
            async with (
                kmock.Server(emulator, server_cls=QuickServer) as server,
                MediaMTXClient(emu.url or "") as client,
            ):
                harness = Harness(emulator, server, client)
                try:
                    yield harness
                finally:
                    await harness.stopped()
        finally:
            await emu.stop()


async def latencies(state: Path) -> list[float]:
    samples = [await _latency(state / f"sample-{i}", i) for i in range(SAMPLES + 1)]
    return samples[1:]  # the first is a warm-up


async def _latency(state: Path, i: int) -> float:
    """One sample: a fresh API emulator and operator, a Camera and Stream already there,
    then another pair created; the time until that Stream's status says Ready."""
    held, name = f"held-{i:03d}", f"lat-{i:03d}"
    async with cluster() as h:
        source = await h.start([held, name], state)
        if not await until(lambda: h.watched() and source.synced, SAMPLE_WAIT):
            raise TimeoutError(f"kopf did not watch and list within {SAMPLE_WAIT:g} s")
        for doc in _documents(held):
            await h.create(doc)
        # PathAdded is the last write of the pass that made it Ready.
        if not await until(lambda: h.told(held, "PathAdded"), SAMPLE_WAIT):
            raise TimeoutError(f"Stream/{held} not Ready within {SAMPLE_WAIT:g} s")
        start = time.perf_counter()
        for doc in _documents(name):
            await h.create(doc)
        if not await until(functools.partial(h.ready, name), SAMPLE_WAIT):
            raise TimeoutError(f"Stream/{name} not Ready within {SAMPLE_WAIT:g} s")
        return time.perf_counter() - start


@dataclass
class Startup:
    ready: int  # Streams Ready by the end: N, or fewer when STARTUP_WAIT ran out
    wall: float
    rss_before: int  # kB
    rss_after: int  # kB
    maxrss: int  # kB
    requests: int  # served by kmock by the end (creates included)


def _rss() -> int:
    """VmRSS of this process, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def startup(state: Path) -> Startup:
    names = [f"cam-{i:04d}" for i in range(N)]
    async with cluster() as h:
        for name in names:
            for doc in _documents(name):
                await h.create(doc)
        rss_before = _rss()
        start = time.perf_counter()
        await h.start(names, state)
        remaining = set(names)

        def all_ready() -> bool:
            remaining.difference_update([n for n in remaining if h.ready(n)])
            return not remaining

        await until(all_ready, STARTUP_WAIT, poll=0.01)
        wall = time.perf_counter() - start
        rss_after = _rss()
        served = sum(1 for _ in h.cluster)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Startup(N - len(remaining), wall, rss_before, rss_after, peak, served)


def report_latency(samples: list[float]) -> None:
    median, worst = statistics.median(samples), max(samples)
    met = verdict(median < LATENCY_TARGET, "kubernetes: created -> Ready")
    print(
        f"  Camera+Stream created -> Stream Ready=True stored ({SAMPLES} samples): "
        f"median {median * 1e3:.0f} ms, max {worst * 1e3:.0f} ms "
        f"(target median < {LATENCY_TARGET * 1e3:.0f} ms: {met})"
    )


def report_startup(boot: Startup) -> None:
    met = verdict(boot.ready == N, "kubernetes: start-up")
    done = (
        f"all statuses Ready written in {boot.wall:.2f} s ({boot.wall / N * 1e3:.1f} ms/stream)"
        if boot.ready == N
        else f"only {boot.ready} of {N} Ready after {boot.wall:.2f} s"
    )
    print(
        f"  start-up N={N} Streams: operator start -> {done}; RSS after "
        f"{boot.rss_after / 1024:.0f} MiB (+{(boot.rss_after - boot.rss_before) / 1024:.0f} MiB "
        f"over the operator start; peak {boot.maxrss / 1024:.0f} MiB; emulators included; "
        f"target all {N} Ready within {STARTUP_WAIT:.0f} s: {met})"
    )
    print(
        f"  the issue's N={ISSUE_N} was not reached: kmock's request matching slows with every "
        f"request it has served ({boot.requests} by the end of this one), so N={N} keeps "
        f"the bench short"
    )


def main() -> None:
    for name in ("kopf", "aiohttp.access", "camctl", "kmock"):
        logging.getLogger(name).setLevel(logging.ERROR)
    print("kubernetes: the operator through the real kopf, against kmock and the MediaMTX emulator")
    with tempfile.TemporaryDirectory() as tmp:
        with measuring("kubernetes: created -> Ready"):
            report_latency(asyncio.run(latencies(Path(tmp) / "latency")))
        with measuring("kubernetes: start-up"):
            report_startup(asyncio.run(startup(Path(tmp) / "startup")))


if __name__ == "__main__":
    raise SystemExit(run(main))
