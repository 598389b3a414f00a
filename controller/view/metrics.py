"""/metrics: the controller's counters plus per-resource gauges read from the snapshot.

Gauges are produced at scrape time by a custom collector, so a resource that disappears
takes its series with it. The view's own numbers (connections, answered requests) are
in a registry of their own, printed after the controller's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from controller.view.snapshot import condition_of, ready_of
from controller.view.state import ViewState

if TYPE_CHECKING:
    from controller.view.listener import Listener


class ResourceCollector(Collector):
    def __init__(self, state: ViewState) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snap = self.state.snapshot
        labels = ["kind", "namespace", "name"]
        ready = GaugeMetricFamily(
            "camctl_resource_ready", "1 when the resource's Ready condition is True", labels=labels
        )
        condition = GaugeMetricFamily(
            "camctl_resource_ready_status",
            "1 for the resource's current Ready status (True, False or Unknown)",
            labels=[*labels, "status"],
        )
        for key, doc in sorted(snap.by_ref.items()):
            status = (ready_of(doc) or {}).get("status", "Unknown")
            ready.add_metric(list(key), 1.0 if status == "True" else 0.0)
            for value in ("True", "False", "Unknown"):
                condition.add_metric([*key, value], 1.0 if status == value else 0.0)
        yield ready
        yield condition
        yield from self._streams()
        yield from self._recordings()
        yield from self._view()

    def _streams(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["namespace", "name", "path"]
        readers = GaugeMetricFamily("camctl_stream_readers", "Readers of the path", labels=labels)
        received = GaugeMetricFamily(
            "camctl_stream_received_bytes", "Bytes MediaMTX received on the path", labels=labels
        )
        bitrate = GaugeMetricFamily(
            "camctl_stream_inbound_bitrate",
            "Bits per second MediaMTX received on the path, between the last two passes",
            labels=labels,
        )
        healthy = GaugeMetricFamily(
            "camctl_stream_healthy",
            "1 when the watchdog finds the Stream healthy, 0 when stalled or not publishing "
            "(no sample while it does not watch it: watchdog off, device absent, no readers)",
            labels=labels,
        )
        restarts = CounterMetricFamily(
            "camctl_stream_restarts",
            "Times the watchdog restarted the Stream's publisher (since camctl started)",
            labels=labels,
        )
        for doc in self.state.snapshot.docs["Stream"]:
            status = doc.get("status")
            if status is None:  # another node's: nothing observed here
                continue
            key = [doc["metadata"]["namespace"], doc["metadata"]["name"], status.get("path", "")]
            for family, field in ((readers, "readers"), (received, "bytesReceived")):
                if status.get(field) is not None:
                    family.add_metric(key, float(status[field]))
            if status.get("bitrate") is not None:
                bitrate.add_metric(key, float(status["bitrate"]))
            watched = (condition_of(doc, "Healthy") or {}).get("status")
            if watched in ("True", "False"):
                healthy.add_metric(key, 1.0 if watched == "True" else 0.0)
            restarts.add_metric(key, float(status.get("restarts") or 0))
        yield from (readers, received, bitrate, healthy, restarts)

    def _recordings(self) -> Iterator[GaugeMetricFamily]:
        """From each Recording's status: its files as the last pass found them."""
        labels = ["namespace", "name"]
        gauges = {
            "segments": ("camctl_recording_segments", "Segments on disk"),
            "bytes": ("camctl_recording_bytes", "Bytes of the segments on disk"),
            "freeBytes": ("camctl_recording_disk_free_bytes", "Free bytes of the recordings' disk"),
            "totalBytes": ("camctl_recording_disk_total_bytes", "Size of the recordings' disk"),
            "writing": ("camctl_recording_writing", "1 while MediaMTX writes segments"),
            "enabled": ("camctl_recording_enabled", "1 when the Recording should be writing"),
        }
        families = {k: GaugeMetricFamily(n, text, labels=labels) for k, (n, text) in gauges.items()}
        for doc in self.state.snapshot.docs["Recording"]:
            status = doc.get("status")
            if status is None:  # another node's: nothing observed here
                continue
            key = [doc["metadata"]["namespace"], doc["metadata"]["name"]]
            values = {
                "segments": (status.get("segments") or {}).get("count"),
                "bytes": (status.get("segments") or {}).get("bytes"),
                **(status.get("disk") or {}),
                "writing": (condition_of(doc, "Recording") or {}).get("status") == "True",
                # Declared on, and nothing in the way camctl knows of (its Ready is True).
                "enabled": doc["spec"].get("enabled", True)
                and (condition_of(doc, "Ready") or {}).get("status") == "True",
            }
            for name, family in families.items():
                if values.get(name) is not None:
                    family.add_metric(key, float(values[name]))
        yield from families.values()

    def _view(self) -> Iterator[GaugeMetricFamily]:
        snap = self.state.snapshot
        yield GaugeMetricFamily(
            "camctl_view_connections", "Open WebSocket connections", value=len(self.state.listeners)
        )
        yield GaugeMetricFamily(
            "camctl_view_snapshot_version", "Version of the view's snapshot", value=snap.version
        )
        devices = GaugeMetricFamily(
            "camctl_devices", "V4L2 capture devices seen, by claimed", labels=["claimed"]
        )
        claimed = sum(1 for d in snap.devices if d.get("claimedBy"))
        devices.add_metric(["true"], claimed)
        devices.add_metric(["false"], len(snap.devices) - claimed)
        yield devices


class ViewMetrics:
    def __init__(self, state: ViewState, controller_registry: CollectorRegistry | None) -> None:
        self.controller_registry = controller_registry
        self.registry = CollectorRegistry()
        self.registry.register(ResourceCollector(state))
        self.requests = Counter(
            "camctl_view_requests",
            "JSON-RPC calls answered, by method and outcome (ok or the error code)",
            ["method", "outcome"],
            registry=self.registry,
        )
        self._answered: dict[tuple[str, str], Counter] = {}
        self.accept_errors = Counter(
            "camctl_view_accept_errors",
            "Connections the view could not accept, by error (EMFILE: out of open files)",
            ["errno"],
            registry=self.registry,
        )
        self.open_connections = Gauge(
            "camctl_view_http_connections",
            "Connections open to the view, WebSockets included",
            registry=self.registry,
        )
        self.connection_limit = Gauge(
            "camctl_view_connection_limit",
            "Connections the view holds at most (more wait unaccepted)",
            registry=self.registry,
        )

    def watch(self, listener: Listener) -> None:
        self.open_connections.set_function(lambda: listener.open)
        self.connection_limit.set(listener.capacity)

    def accept_failed(self, errno_name: str) -> None:
        self.accept_errors.labels(errno_name).inc()

    def count(self, method: str, outcome: str) -> None:
        # A call's series looked up once: labels() checks and locks on every call.
        counter = self._answered.get((method, outcome))
        if counter is None:
            counter = self._answered[method, outcome] = self.requests.labels(method, outcome)
        counter.inc()

    def exposition(self) -> bytes:
        ours = generate_latest(self.registry)
        if self.controller_registry is None:
            return ours
        return generate_latest(self.controller_registry) + ours
