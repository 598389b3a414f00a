"""Synthetic declared worlds of N cameras and streams, for the benchmarks."""

from __future__ import annotations

from pathlib import Path

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
    if problems:
        raise ValueError(f"the generated world does not load: {problems[:3]}")
    return desired, devices


def write_world(root: Path, n: int, recordings: bool = True, per_file: int = 100) -> Path:
    """Documents under root/docs (`per_file` cameras a file) and root/dev/devices.yaml."""
    docs, dev = root / "docs", root / "dev"
    docs.mkdir(parents=True)
    dev.mkdir()
    devices = []
    for first in range(0, n, per_file):
        text = []
        for i in range(first, min(n, first + per_file)):
            name, serial = f"cam-{i:05d}", f"SER{i:05d}"
            text.append(
                f"apiVersion: camctl.dev/v1alpha1\nkind: Camera\nmetadata: {{name: {name}}}\n"
                f'spec:\n  match: {{serial: "{serial}"}}\n---\n'
                f"apiVersion: camctl.dev/v1alpha1\nkind: Stream\nmetadata: {{name: {name}}}\n"
                f"spec:\n  camera: {name}\n  path: cams/{name}\n"
                "  video: {width: 640, height: 480, fps: 15, bitrate: 1M}\n"
            )
            if recordings:
                text.append(
                    f"apiVersion: camctl.dev/v1alpha1\nkind: Recording\n"
                    f"metadata: {{name: {name}}}\nspec:\n  stream: {name}\n  retention: 7d\n"
                )
            devices.append(
                f'  - {{node: /dev/video{2 * i}, serial: "{serial}", '
                f"byId: /dev/v4l/by-id/usb-Acme_Cam_{serial}-video-index0}}\n"
            )
        (docs / f"cameras-{first // per_file:03d}.yaml").write_text("---\n".join(text))
    (dev / "devices.yaml").write_text("devices:\n" + "".join(devices))
    return dev / "devices.yaml"
