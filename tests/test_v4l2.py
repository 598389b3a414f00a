"""controller.observe.v4l2: udev enumeration under umockdev, and the simulated-devices file.

The udev tests need the umockdev preload: run them as
    umockdev-wrapper python -m pytest tests/test_v4l2.py
Without it udev quietly shows the real (empty) /sys, so they fail on purpose instead of
passing or skipping with empty lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.api.device import Device, Mode
from controller.observe.v4l2 import (
    MAX_DEVICE_FILE_BYTES,
    DeviceFileError,
    device_from_udev,
    enumerate_devices,
    load_simulated,
)
from controller.observe.v4l2_modes import ModeCache, ModeRead

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "devices.yaml"

# ---------------------------------------------------------------------------------------------
# udev records for umockdev's Testbed (the `testbed` fixture and its gotchas: conftest.py)


USB = "/devices/pci0000:00/0000:00:14.0/usb1"


def usb_camera(port: int, vendor: str, product: str, serial: str | None) -> str:
    """umockdev records for a USB camera on port 1-`port` and its interface 0 (uvcvideo)."""
    serial_attr = f"A: serial={serial}\n" if serial else ""
    return (
        f"P: {USB}/1-{port}\n"
        "E: SUBSYSTEM=usb\n"
        "E: DEVTYPE=usb_device\n"
        f"A: idVendor={vendor}\n"
        f"A: idProduct={product}\n"
        f"{serial_attr}"
        "L: driver=../../../../../bus/usb/drivers/usb\n"
        "\n"
        f"P: {USB}/1-{port}/1-{port}:1.0\n"
        "E: SUBSYSTEM=usb\n"
        "E: DEVTYPE=usb_interface\n"
        "E: DRIVER=uvcvideo\n"
        "A: bInterfaceClass=0e\n"
        "L: driver=../../../../../../bus/usb/drivers/uvcvideo\n"
        "\n"
    )


def video_node(port: int, index: int, minor: int, props: dict[str, str]) -> str:
    """A video4linux child of the camera's interface 0, with the udev properties given."""
    lines = [
        f"P: {USB}/1-{port}/1-{port}:1.0/video4linux/video{minor}",
        "E: SUBSYSTEM=video4linux",
        f"E: DEVNAME=/dev/video{minor}",
        "E: MAJOR=81",
        f"E: MINOR={minor}",
        f"A: dev=81:{minor}",
        f"A: index={index}",
        *(f"E: {key}={value}" for key, value in props.items()),
    ]
    return "\n".join(lines) + "\n\n"


def links(port: int, index: int, id_serial: str) -> str:
    """DEVLINKS as udev's 60-persistent-v4l.rules makes them."""
    path = f"pci-0000:00:14.0-usb-0:{port}:1.0"
    return " ".join(
        [
            f"/dev/v4l/by-id/usb-{id_serial}-video-index{index}",
            f"/dev/v4l/by-path/{path}-video-index{index}",
            # systemd >= 252 also makes a `usbv2` alias; the plain `usb` one must win
            f"/dev/v4l/by-path/{path.replace('-usb-', '-usbv2-')}-video-index{index}",
        ]
    )


def uvc_nodes(port: int, minor: int, props: dict[str, str]) -> str:
    """A UVC camera's two nodes: capture (index 0) and metadata (index 1, no `:capture:`)."""
    capture = {"ID_V4L_CAPABILITIES": ":capture:", "DEVLINKS": links(port, 0, props["ID_SERIAL"])}
    metadata = {"ID_V4L_CAPABILITIES": ":", "DEVLINKS": links(port, 1, props["ID_SERIAL"])}
    return video_node(port, 0, minor, props | capture) + video_node(
        port, 1, minor + 1, props | metadata
    )


C920 = {
    "ID_BUS": "usb",
    "ID_VENDOR_ID": "046d",
    "ID_MODEL_ID": "082d",
    "ID_MODEL": "HD_Pro_Webcam_C920",
    "ID_MODEL_ENC": r"HD\x20Pro\x20Webcam\x20C920",
    "ID_SERIAL": "046d_HD_Pro_Webcam_C920_A1B2C3D4",
    "ID_SERIAL_SHORT": "A1B2C3D4",
    "ID_USB_DRIVER": "uvcvideo",
    "ID_USB_INTERFACE_NUM": "00",
    "ID_PATH": "pci-0000:00:14.0-usb-0:1:1.0",
    "ID_PATH_TAG": "pci-0000_00_14_0-usb-0_1_1_0",
    "ID_V4L_VERSION": "2",
    "ID_V4L_PRODUCT": "HD Pro Webcam C920",
}
# The C270 has no ID_USB_DRIVER here, so the driver must come from the interface's driver link.
C270 = {
    "ID_BUS": "usb",
    "ID_VENDOR_ID": "046d",
    "ID_MODEL_ID": "0825",
    "ID_MODEL": "0825",
    "ID_SERIAL": "046d_0825_5F3A1B20",
    "ID_SERIAL_SHORT": "5F3A1B20",
    "ID_PATH": "pci-0000:00:14.0-usb-0:2:1.0",
    "ID_V4L_VERSION": "2",
    "ID_V4L_PRODUCT": "UVC Camera (046d:0825)",
}
# No serial number (so no ID_SERIAL_SHORT; udev's ID_SERIAL is just vendor_model) and no
# ID_V4L_PRODUCT: the product name comes from the decoded ID_MODEL_ENC.
GENERIC = {
    "ID_BUS": "usb",
    "ID_VENDOR_ID": "1bcf",
    "ID_MODEL_ID": "2c99",
    "ID_MODEL": "USB_2.0_Camera",
    "ID_MODEL_ENC": r"USB\x202.0\x20Camera\x20\x20",
    "ID_SERIAL": "1bcf_USB_2.0_Camera",
    "ID_USB_DRIVER": "uvcvideo",
    "ID_PATH": "pci-0000:00:14.0-usb-0:3:1.0",
    "ID_V4L_VERSION": "2",
}


def three_cameras() -> str:
    """C920 (capture video0, metadata video1), C270 (video2, 3), serial-less camera (video4, 5)."""
    return "".join(
        [
            usb_camera(1, "046d", "082d", "A1B2C3D4"),
            uvc_nodes(1, 0, C920),
            usb_camera(2, "046d", "0825", "5F3A1B20"),
            uvc_nodes(2, 2, C270),
            usb_camera(3, "1bcf", "2c99", None),
            uvc_nodes(3, 4, GENERIC),
        ]
    )


EXPECTED = [
    Device(
        node="/dev/video0",
        serial="A1B2C3D4",
        vendor_id="046d",
        product_id="082d",
        usb_path="pci-0000:00:14.0-usb-0:1:1.0",
        product="HD Pro Webcam C920",
        driver="uvcvideo",
        by_id="/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0",
        by_path="/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0",
    ),
    Device(
        node="/dev/video2",
        serial="5F3A1B20",
        vendor_id="046d",
        product_id="0825",
        usb_path="pci-0000:00:14.0-usb-0:2:1.0",
        product="UVC Camera (046d:0825)",
        driver="uvcvideo",
        by_id="/dev/v4l/by-id/usb-046d_0825_5F3A1B20-video-index0",
        by_path="/dev/v4l/by-path/pci-0000:00:14.0-usb-0:2:1.0-video-index0",
    ),
    Device(
        node="/dev/video4",
        serial=None,
        vendor_id="1bcf",
        product_id="2c99",
        usb_path="pci-0000:00:14.0-usb-0:3:1.0",
        product="USB 2.0 Camera",
        driver="uvcvideo",
        by_id="/dev/v4l/by-id/usb-1bcf_USB_2.0_Camera-video-index0",
        by_path="/dev/v4l/by-path/pci-0000:00:14.0-usb-0:3:1.0-video-index0",
    ),
]


def facts_only() -> ModeCache:
    """Enumeration without reading modes (test_v4l2_modes.py reads them from emulated
    cameras): the nodes of these records do not exist in the testbed, and the preload would
    let a host's own /dev/videoN answer instead."""
    return ModeCache(read=lambda node: ModeRead(()))


@pytest.mark.umockdev
def test_enumerate_finds_capture_nodes_with_all_facts(testbed: Any) -> None:
    import pyudev

    testbed.add_from_string(three_cameras())
    context = pyudev.Context()
    assert len(list(context.list_devices(subsystem="video4linux"))) == 6  # the mock is there

    assert enumerate_devices(context, facts_only()) == EXPECTED
    assert enumerate_devices(modes=facts_only()) == EXPECTED  # a default Context sees the same


@pytest.mark.umockdev
def test_device_from_udev_skips_metadata_and_other_devices(testbed: Any) -> None:
    import pyudev

    testbed.add_from_string(three_cameras())
    context = pyudev.Context()
    metadata = pyudev.Devices.from_sys_path(context, f"/sys{USB}/1-1/1-1:1.0/video4linux/video1")
    interface = pyudev.Devices.from_sys_path(context, f"/sys{USB}/1-1/1-1:1.0")
    capture = pyudev.Devices.from_sys_path(context, f"/sys{USB}/1-1/1-1:1.0/video4linux/video0")

    assert metadata.device_node == "/dev/video1"
    assert device_from_udev(metadata) is None
    assert device_from_udev(interface) is None
    assert device_from_udev(capture) == EXPECTED[0]


@pytest.mark.umockdev
def test_enumerate_orders_nodes_by_number_and_needs_capture(testbed: Any) -> None:
    import pyudev

    def bare(minor: int, caps: str) -> str:
        return (
            f"P: /devices/virtual/video4linux/video{minor}\n"
            f"E: SUBSYSTEM=video4linux\nE: DEVNAME=/dev/video{minor}\n"
            f"E: ID_V4L_CAPABILITIES={caps}\n\n"
        )

    testbed.add_from_string(
        bare(10, ":capture:") + bare(2, ":capture:") + bare(3, ":video_output:") + bare(7, "")
    )
    devices = enumerate_devices(pyudev.Context(), facts_only())

    assert devices == [Device(node="/dev/video2"), Device(node="/dev/video10")]


@pytest.mark.umockdev
def test_enumerate_empty_testbed(testbed: Any) -> None:
    assert enumerate_devices() == []


# ---------------------------------------------------------------------------------------------
# simulated devices file


def test_example_file_loads() -> None:
    devices = load_simulated(EXAMPLE)

    assert [d.node for d in devices] == ["/dev/video0", "/dev/video2", "/dev/video4"]
    c920, c270, generic = devices
    assert c920 == Device(
        node="/dev/video0",
        serial="A1B2C3D4",
        vendor_id="046d",
        product_id="082d",
        usb_path="pci-0000:00:14.0-usb-0:1:1.0",
        product="HD Pro Webcam C920",
        driver="uvcvideo",
        by_id="/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_A1B2C3D4-video-index0",
        by_path="/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0",
        formats=("MJPG", "YUYV", "H264"),  # from the modes, in their order
        modes=(
            Mode(format="MJPG", width=1920, height=1080, fps=(30, 24, 20, 15, 10, 5)),
            Mode(format="MJPG", width=1280, height=720, fps=(30, 24, 20, 15, 10, 5)),
            Mode(format="MJPG", width=640, height=480, fps=(30, 24, 20, 15, 10, 5)),
            Mode(format="YUYV", width=1920, height=1080, fps=(5,)),
            Mode(format="YUYV", width=1280, height=720, fps=(10, 5)),
            Mode(format="YUYV", width=640, height=480, fps=(30, 15, 10, 5)),
            Mode(format="H264", width=1920, height=1080, fps=(30, 15)),
            Mode(format="H264", width=1280, height=720, fps=(30, 15)),
        ),
    )
    assert (c270.serial, c270.vendor_id, c270.product_id) == ("5F3A1B20", "046d", "0825")
    assert c270.formats == ("MJPG", "YUYV")
    assert Mode(format="YUYV", width=1280, height=960, fps=(7.5, 5)) in c270.modes
    assert generic.serial is None and generic.by_id is None
    assert (generic.vendor_id, generic.product_id) == ("1bcf", "2c99")
    assert generic.usb_path == "pci-0000:00:14.0-usb-0:3:1.0"
    assert generic.by_path == "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:3:1.0-video-index0"
    assert {d.driver for d in devices} == {"uvcvideo"}


def test_simulated_devices_sorted_and_empty_list_allowed(tmp_path: Path) -> None:
    file = tmp_path / "devices.yaml"
    file.write_text("devices:\n  - node: /dev/video10\n  - node: /dev/video2\n")
    assert [d.node for d in load_simulated(file)] == ["/dev/video2", "/dev/video10"]

    file.write_text("devices: []\n")
    assert load_simulated(file) == []


def _error(tmp_path: Path, text: str | bytes) -> str:
    file = tmp_path / "devices.yaml"
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text)
    with pytest.raises(DeviceFileError) as info:
        load_simulated(file)
    assert isinstance(info.value, ValueError)
    return str(info.value).replace(str(file), "FILE")


WRONG_TYPE = """\
devices:
  - node: /dev/video0
    vendorId: "046d"
  - node: /dev/video2
    vendorId: 0825
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            WRONG_TYPE,
            "FILE:5:15: devices[1].vendorId: Input should be a valid string"
            ' (quote it: "0825" unquoted is the number 825)',
            id="wrong-type",
        ),
        pytest.param(
            "devices:\n  - node: /dev/video0\n    formats: [MJPG, 3]\n",
            "FILE:3:21: devices[0].formats[1]: Input should be a valid string",
            id="wrong-type-in-list",
        ),
        pytest.param(
            "devices:\n  - node: /dev/video0\n    vendor: 046d\n",
            "FILE:3:5: devices[0].vendor: unknown field (expected one of: node, serial, vendorId,"
            " productId, usbPath, product, driver, byId, byPath, formats, modes, modesError)",
            id="unknown-field",
        ),
        pytest.param(
            "devices:\n  - node: /dev/video0\n    vendor_id: '046d'\n",
            "FILE:3:5: devices[0].vendor_id: unknown field (expected one of: node, serial,"
            " vendorId, productId, usbPath, product, driver, byId, byPath, formats, modes,"
            " modesError)",
            id="python-name-is-unknown",
        ),
        pytest.param(
            "cameras: []\n",
            "FILE:1:1: cameras: unknown field (expected 'devices')\n"
            "FILE:1:1: devices: field required",
            id="unknown-top-level",
        ),
        pytest.param(
            "devices:\n  node: /dev/video0\n",
            "FILE:2:3: devices: expected a list",
            id="not-a-list",
        ),
        pytest.param(
            "devices:\n  - /dev/video0\n",
            "FILE:2:5: devices[0]: expected a mapping of device facts",
            id="item-not-a-mapping",
        ),
        pytest.param(
            "devices:\n  - serial: 'A1B2C3D4'\n",
            "FILE:2:5: devices[0].node: Field required",
            id="missing-node",
        ),
        pytest.param(
            "devices:\n  - node: /dev/video0\n  - node: /dev/video0\n",
            "FILE:3:11: devices[1].node: /dev/video0 is already used by devices[0]",
            id="duplicate-node",
        ),
        pytest.param(
            "devices:\n  - node: /dev/video0\n    serial: [A1B2\n",
            "FILE:4:1: invalid YAML: expected ',' or ']', but got '<stream end>'"
            " (while parsing a flow sequence, line 3)",
            id="yaml-syntax",
        ),
        pytest.param(
            "devices:\n  - node: /dev/video0\n    node: /dev/video1\n",
            'FILE:3:5: invalid YAML: found duplicate key "node" with value "/dev/video1"'
            ' (original value: "/dev/video0") (while constructing a mapping, line 2)',
            id="duplicate-key",
        ),
        pytest.param(
            "", "FILE:1:1: empty file: expected a mapping with a 'devices' list", id="empty"
        ),
        pytest.param(
            "- node: /dev/video0\n",
            "FILE:1:1: expected a mapping with a 'devices' list",
            id="top-level-list",
        ),
        pytest.param(
            b"devices:\n  - node: /dev/vid\xe9o0\n",
            "FILE:2:19: not UTF-8 text (byte 0xe9)",
            id="not-utf8",
        ),
    ],
)
def test_bad_file_names_file_line_and_field(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    assert _error(tmp_path, text) == expected


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    text = "devices: []\n" + "#" * MAX_DEVICE_FILE_BYTES + "\n"
    assert _error(tmp_path, text) == "FILE:1:1: larger than the limit of 1 MiB"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(DeviceFileError) as info:
        load_simulated(missing)
    assert str(info.value) == f"{missing}:1:1: no such file or folder"


def test_error_keeps_structured_problems(tmp_path: Path) -> None:
    file = tmp_path / "devices.yaml"
    file.write_text(WRONG_TYPE)
    with pytest.raises(DeviceFileError) as info:
        load_simulated(file)
    (problem,) = info.value.problems
    assert info.value.file == file
    assert (problem.line, problem.column, problem.field) == (5, 15, "devices[1].vendorId")
