"""Scaffold Camera documents from what is plugged in: `camctl devices --suggest`.

A suggestion matches on the most stable facts the device has: its serial with vendor and
product when it has one, otherwise vendor, product and the physical USB port.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from controller.api.device import Device
from controller.api.kinds import API_VERSION


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
