"""Observed V4L2 cameras: enumerates the capture nodes that udev knows, as `Device` facts.

`enumerate_devices` asks udev (through pyudev) for every `video4linux` node that can capture
video; UVC metadata nodes, which share the camera's USB identity but carry no picture, are left
out. The planner matches the declared Cameras against the result by serial, vendor/product and
USB port, never by the `/dev/videoN` number alone. Each device's modes (formats, frame sizes
and rates) come from `v4l2_modes`, read once per appearance through a `ModeCache`.
`device_from_udev` turns one udev device into a `Device`, and `load_simulated` reads the same
facts, modes included, from a YAML file for demos and machines without cameras.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyudev
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from controller.api.device import Device
from controller.kit import yamlfile
from controller.observe.v4l2_modes import ModeCache

__all__ = [
    "MAX_DEVICE_FILE_BYTES",
    "DeviceFileError",
    "device_from_udev",
    "enumerate_devices",
    "load_simulated",
    "watch_udev",
]

SUBSYSTEM = "video4linux"
CAPTURE = ":capture:"
BY_ID = "/dev/v4l/by-id/"
BY_PATH = "/dev/v4l/by-path/"
MAX_DEVICE_FILE_BYTES = 1024 * 1024

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# udev


def enumerate_devices(
    context: pyudev.Context | None = None, modes: ModeCache | None = None
) -> list[Device]:
    """Every V4L2 capture node udev knows, with its modes, ordered by node (`/dev/video2`
    before `/dev/video10`). Without a `modes` cache of the caller's, every node is read."""
    ctx = context if context is not None else pyudev.Context()
    listing = []
    for dev in ctx.list_devices(subsystem=SUBSYSTEM):
        device = device_from_udev(dev)
        if device is not None:
            listing.append((appearance(dev), device))
    found = (modes if modes is not None else ModeCache()).with_modes(listing)
    return sorted(found, key=lambda d: _node_key(d.node))


def appearance(dev: pyudev.Device) -> tuple[str | None, ...]:
    """What tells one appearance of a device from the next: udev stamps USEC_INITIALIZED
    when it sets a device up, so a camera plugged back in gets a new one."""
    props = dev.properties
    return (
        _str(dev.device_node),
        _str(dev.sys_path),
        _str(props.get("USEC_INITIALIZED")),
        _str(props.get("ID_SERIAL")),
    )


async def watch_udev(notify: Callable[[str], None], context: pyudev.Context | None = None) -> None:
    """Call `notify` on every video4linux uevent (add, remove, change) until cancelled.

    pyudev has no asyncio API: the monitor's socket is read from the event loop, and every
    waiting event is drained at once so a burst wakes the controller once.
    """
    monitor = pyudev.Monitor.from_netlink(context if context is not None else pyudev.Context())
    monitor.filter_by(SUBSYSTEM)
    monitor.start()
    loop = asyncio.get_running_loop()

    def drain() -> None:
        actions = []
        try:
            while (dev := monitor.poll(0)) is not None:
                actions.append(f"{dev.action} {dev.device_node or dev.sys_name}")
        except OSError as exc:
            # ENOBUFS: a burst (a camera flapping, a hub replugged) overflowed the socket and
            # the kernel dropped events. Passes list every device, so waking is all it takes.
            log.warning("udev monitor: %s; some events were lost, re-listing devices", exc)
            actions.append(f"events lost ({exc.strerror or exc})")
        if actions:
            notify("udev: " + ", ".join(actions))

    loop.add_reader(monitor.fileno(), drain)
    try:
        await asyncio.Event().wait()
    finally:
        loop.remove_reader(monitor.fileno())


def device_from_udev(dev: pyudev.Device) -> Device | None:
    """The facts of one udev device, or None if it is not a V4L2 capture node."""
    props = dev.properties
    node = _str(dev.device_node)
    if dev.subsystem != SUBSYSTEM or node is None:
        return None
    if CAPTURE not in (_str(props.get("ID_V4L_CAPABILITIES")) or ""):
        return None
    links = _links(props.get("DEVLINKS"), dev.device_links)
    return Device(
        node=node,
        serial=_str(props.get("ID_SERIAL_SHORT")),
        vendor_id=_str(props.get("ID_VENDOR_ID")),
        product_id=_str(props.get("ID_MODEL_ID")),
        usb_path=_str(props.get("ID_PATH")),
        product=(
            _str(props.get("ID_V4L_PRODUCT"))
            or _udev_decode(_str(props.get("ID_MODEL_ENC")))
            or _str(props.get("ID_MODEL"))
        ),
        driver=_str(props.get("ID_USB_DRIVER")) or _ancestor_driver(dev),
        by_id=_pick(links, BY_ID),
        by_path=_pick(links, BY_PATH),
    )


def _str(value: Any) -> str | None:
    """A udev value as a stripped string; None when missing or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _links(devlinks: Any, device_links: Iterable[Any]) -> set[str]:
    # DEVLINKS is what udev exports (and all umockdev can fake); device_links reads the udev db.
    links = set((_str(devlinks) or "").split())
    links.update(str(link) for link in device_links)
    return links


def _pick(links: set[str], prefix: str) -> str | None:
    """The shortest link under prefix: e.g. `…-usb-0:1:1.0-…` over the newer `…-usbv2-…` alias."""
    matching = [link for link in links if link.startswith(prefix)]
    return min(matching, key=lambda link: (len(link), link)) if matching else None


def _ancestor_driver(dev: pyudev.Device) -> str | None:
    """The driver bound nearest above the node (the video4linux node itself has none)."""
    for ancestor in dev.ancestors:
        driver = _str(ancestor.driver)
        if driver is not None:
            return driver
    return None


_HEX_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def _udev_decode(value: str | None) -> str | None:
    """Decode udev's `\\xHH` escaping (ID_MODEL_ENC: `HD\\x20Pro\\x20Webcam`)."""
    if value is None:
        return None
    raw = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), value.encode())
    return raw.decode("utf-8", errors="replace").strip() or None


def _node_key(node: str) -> tuple[str | int, ...]:
    """Natural order: digits compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", node))


# ---------------------------------------------------------------------------------------------
# simulation file


@dataclass(frozen=True)
class Problem:
    """One error in a device file, at a 1-based line and column when known."""

    line: int | None
    column: int | None
    field: str
    message: str


class DeviceFileError(ValueError):
    """A simulated-devices file that cannot be used; each line reads `FILE:LINE:COL: FIELD: MSG`."""

    def __init__(self, file: Path, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(_format(file, p) for p in problems))


def _format(file: Path, p: Problem) -> str:
    where = str(file) if p.line is None else f"{file}:{p.line}:{p.column or 1}"
    return f"{where}: {p.field}: {p.message}" if p.field else f"{where}: {p.message}"


_FIELDS = {f.alias or name: name for name, f in Device.model_fields.items()}
_QUOTED = {("serial",), ("vendorId",), ("productId",)}


def load_simulated(path: Path) -> list[Device]:
    """Read `devices: [{node: /dev/video0, serial: …, vendorId: …}, …]`, ordered by node.

    Field names are those of `Device` in camelCase (`vendorId`, `byId`, …); unknown fields,
    wrong types and duplicate nodes are errors. Raises DeviceFileError naming file, line and field.
    """
    try:
        text = yamlfile.read_text(path, cap=MAX_DEVICE_FILE_BYTES)
        fast = _load_fast(text)
        if fast is not None:
            return fast
        documents = yamlfile.load_positioned(text)
    except yamlfile.Refused as refused:
        raise DeviceFileError(
            path, [Problem(refused.line, refused.col, "", str(refused))]
        ) from None
    data = documents[0] if documents else None
    if not isinstance(data, CommentedMap):
        empty = "empty file: " if data is None else ""
        expected = f"{empty}expected a mapping with a 'devices' list"
        raise DeviceFileError(path, [Problem(1, 1, "", expected)])
    problems = [
        Problem(*_pos(data.lc.key(key)), str(key), "unknown field (expected 'devices')")
        for key in data
        if key != "devices"
    ]
    items = data.get("devices")
    if "devices" not in data:
        problems.append(Problem(*_pos((data.lc.line, data.lc.col)), "devices", "field required"))
    elif items is None:
        items = CommentedSeq()  # `devices:` with nothing under it: no cameras
    elif not isinstance(items, CommentedSeq):
        problems.append(Problem(*_pos(data.lc.value("devices")), "devices", "expected a list"))
    devices: list[Device] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(items if isinstance(items, CommentedSeq) else []):
        where = f"devices[{index}]"
        item_pos = items.lc.item(index) or (items.lc.line, items.lc.col)
        device = _device(item, item_pos, where, problems)
        if device is None:
            continue
        if device.node in seen:
            problems.append(
                Problem(
                    *_pos(item.lc.value("node")),
                    f"{where}.node",
                    f"{device.node} is already used by {seen[device.node]}",
                )
            )
            continue
        seen[device.node] = where
        devices.append(device)
    if problems:
        raise DeviceFileError(path, problems)
    return sorted(devices, key=lambda d: _node_key(d.node))


def _load_fast(text: str) -> list[Device] | None:
    """A file without any problem, through ruamel's C loader; None at the first problem,
    and the round-trip loader then finds and places every one."""
    try:
        documents = yamlfile.load_plain(text)
    except yamlfile.Refused:
        return None
    data = documents[0] if len(documents) == 1 else None
    if not isinstance(data, dict) or set(data) != {"devices"}:
        return None
    items = data["devices"] if data["devices"] is not None else []
    if not isinstance(items, list):
        return None
    devices = []
    for item in items:
        if not isinstance(item, dict) or not set(item) <= set(_FIELDS):
            return None
        try:
            devices.append(Device.model_validate(item))
        except ValidationError:
            return None
    if len({d.node for d in devices}) != len(devices):
        return None
    return sorted(devices, key=lambda d: _node_key(d.node))


def _device(item: Any, item_pos: Any, where: str, problems: list[Problem]) -> Device | None:
    if not isinstance(item, CommentedMap):
        problems.append(Problem(*_pos(item_pos), where, "expected a mapping of device facts"))
        return None
    unknown = [key for key in item if key not in _FIELDS]
    for key in unknown:
        expected = ", ".join(_FIELDS)
        problems.append(
            Problem(
                *_pos(item.lc.key(key)),
                f"{where}.{key}",
                f"unknown field (expected one of: {expected})",
            )
        )
    if unknown:
        return None
    try:
        return Device.model_validate(dict(item))
    except ValidationError as e:
        for err in e.errors():
            problems.append(_validation_problem(item, err, where))
        return None


def _validation_problem(item: CommentedMap, err: Any, where: str) -> Problem:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    field = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    message = str(err["msg"])
    if err["type"] == "string_type" and loc in _QUOTED and not isinstance(err["input"], str):
        message += ' (quote it: "0825" unquoted is the number 825)'
    pos: Any = (item.lc.line, item.lc.col)  # a missing field: point at the device
    node: Any = item
    for depth, part in enumerate(loc, 1):  # as deep as the file goes: modes[1].fps[0]
        if isinstance(node, CommentedMap) and part in node:
            unknown = depth == len(loc) and err["type"] == "extra_forbidden"
            pos = node.lc.key(part) if unknown else node.lc.value(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            pos, node = node.lc.item(part), node[part]
        else:
            break
    return Problem(*_pos(pos), field, message)


def _pos(pos: Any) -> tuple[int | None, int | None]:
    """ruamel's 0-based (line, column) as 1-based; (None, None) when unknown."""
    if pos is None or pos[0] is None:
        return None, None
    return int(pos[0]) + 1, int(pos[1]) + 1
