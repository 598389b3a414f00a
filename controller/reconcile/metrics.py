"""The controller's counters, kept in a prometheus-client registry the view exports."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from controller import __version__
from controller.api.kinds import API_VERSION


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.passes = Counter("camctl_passes", "Reconcile passes", ["result"], registry=r)
        self.actions = Counter(
            "camctl_actions", "MediaMTX writes by kind and result", ["op", "result"], registry=r
        )
        self.drift_corrections = Counter(
            "camctl_drift_corrections",
            "Writes that undid a change made behind camctl's back (or a MediaMTX restart)",
            registry=r,
        )
        self.pass_duration = Histogram(
            "camctl_pass_duration_seconds",
            "Time of one reconcile pass",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.last_success = Gauge(
            "camctl_last_success_timestamp_seconds",
            "When the last pass without errors finished",
            registry=r,
        )
        self.mediamtx_up = Gauge(
            "camctl_mediamtx_up", "1 when MediaMTX answered the last pass", registry=r
        )
        build = Info("camctl_build", "The camctl version running, and what it reads", registry=r)
        build.info({"version": __version__, "api_version": API_VERSION})
