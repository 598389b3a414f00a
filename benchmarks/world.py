"""Synthetic declared worlds of N cameras and streams, for the benchmarks."""

from __future__ import annotations

from controller.api.desired import Desired, assemble
from controller.api.device import Device
from controller.api.kinds import parse_resource


def world(n: int) -> tuple[Desired, list[Device]]:
    resources = []
    devices = []
    for i in range(n):
        name = f"cam-{i:05d}"
        serial = f"SER{i:05d}"
        for kind, spec in (
            ("Camera", {"match": {"serial": serial}}),
            ("Stream", {"camera": name, "path": f"cams/{name}"}),
            ("Recording", {"stream": name, "retention": "7d"}),
        ):
            doc = {
                "apiVersion": "camctl.dev/v1alpha1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": spec,
            }
            resources.append((parse_resource(doc), "bench.yaml"))
        devices.append(
            Device(node=f"/dev/video{2 * i}", serial=serial, by_id=f"/dev/v4l/by-id/{serial}")
        )
    desired, problems = assemble(resources)
    assert not problems
    return desired, devices
