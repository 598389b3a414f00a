"""Scaffold Camera and Stream documents from what is plugged in: `camctl devices --suggest`.

A suggested Camera matches on the most stable facts the device has: its serial with vendor
and product when it has one, otherwise vendor, product and the physical USB port. Its Stream
pins the camera's best mode (`api.modes.best_mode`) in `video`, with a comment naming the
modes it was chosen from, so the choice is visible and stays put when the camera is swapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ruamel.yaml.comments import CommentedMap

from controller.api.device import Device
from controller.api.kinds import API_VERSION
from controller.api.modes import MIN_FPS, ModeChoice, best_mode, summary


def suggest_name(device: Device, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", (device.product or "camera").lower()).strip("-")[:40]
    base = base or "camera"
    suffix = (device.serial or device.node.rsplit("/", 1)[-1]).lower()
    name = re.sub(r"[^a-z0-9]+", "-", f"{base}-{suffix}").strip("-")[:63].strip("-")
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def match_for(device: Device) -> dict[str, str]:
    facts = {"vendorId": device.vendor_id, "productId": device.product_id}
    if device.serial:
        facts["serial"] = device.serial
    elif device.usb_path:
        facts["usbPath"] = device.usb_path
    else:
        facts["device"] = device.by_path or device.node
    return {k: v for k, v in facts.items() if v}


def camera_documents(devices: Iterable[Device]) -> list[dict[str, Any]]:
    taken: set[str] = set()
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "Camera",
            "metadata": {"name": suggest_name(d, taken)},
            "spec": {"match": match_for(d)},
        }
        for d in devices
    ]


def documents(devices: Iterable[Device]) -> list[dict[str, Any]]:
    """A Camera and a Stream of the same name for each device."""
    listed = list(devices)
    out: list[dict[str, Any]] = []
    for camera, device in zip(camera_documents(listed), listed, strict=True):
        out += [camera, stream_document(camera["metadata"]["name"], device)]
    return out


def stream_document(name: str, device: Device) -> CommentedMap:
    """A Stream of the camera `name` in its best mode; without known modes, no `video`."""
    spec = CommentedMap(camera=name)
    doc = CommentedMap(apiVersion=API_VERSION, kind="Stream", metadata={"name": name}, spec=spec)
    best = best_mode(device.modes)
    if best is None:
        why = device.modes_error or (
            "no modes camctl can encode from" if device.modes else "modes unknown"
        )
        doc.yaml_set_comment_before_after_key(
            "spec", before=f"{why}: set spec.video to a mode of this camera", indent=0
        )
        return doc
    spec["video"] = _video(best)
    spec["video"].fa.set_flow_style()
    notes = [
        f"the largest mode at >= {MIN_FPS} fps, MJPEG before raw; it offers:",
        f"  {summary(device.modes)}",
    ]
    passthrough = best_mode(device.modes, passthrough=True)
    if passthrough is not None:
        video = {"input": "h264", "codec": "copy", **_video(passthrough)}
        notes.append("or pass its H.264 through unencoded: " + _flow(video))
    spec.yaml_set_comment_before_after_key("video", before="\n".join(notes), indent=2)
    return doc


def _video(choice: ModeChoice) -> CommentedMap:
    # VideoSpec's fps is whole: a camera's 29.97 is asked for as 30, which it serves.
    return CommentedMap(
        input=choice.input, width=choice.width, height=choice.height, fps=round(choice.fps)
    )


def _flow(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"
