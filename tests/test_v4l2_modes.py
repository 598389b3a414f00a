"""Camera modes: V4L2 enumeration under emulated ioctls, the best-mode choice, and
`camctl devices` showing and suggesting them.

The ioctl tests need the umockdev preload: run them as
    umockdev-wrapper python -m pytest tests/test_v4l2_modes.py
The cameras' answers come from controller.testing.v4l2.EmulatedCamera, a umockdev
`IoctlBase` handler attached to each node (its gotchas are in that module's docstring);
the session's one Testbed and its rules are in conftest.py.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from controller.api.conditions import find
from controller.api.desired import assemble
from controller.api.device import Device, Mode
from controller.api.kinds import Ref, StreamStatus, parse_resource
from controller.api.modes import (
    ModeChoice,
    best_mode,
    closest_modes,
    summary,
    supports,
)
from controller.api.settings import Settings
from controller.cli import main
from controller.observe import v4l2_modes
from controller.observe.devices import UdevDevices
from controller.observe.v4l2 import DeviceFileError, enumerate_devices, load_simulated
from controller.observe.v4l2_modes import ModeCache, ModeRead, read_modes
from controller.reconcile.plan import Plan, plan
from controller.sources.files import load

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "devices.yaml"


def M(fourcc: str, width: int, height: int, *fps: float) -> Mode:
    return Mode(format=fourcc, width=width, height=height, fps=fps)


# ---------------------------------------------------------------------------------------------
# emulated cameras


def node_record(minor: int, serial: str, product: str, *, node: bool = True) -> str:
    """A capture node; `N:` with contents makes /dev/videoN a plain file umockdev can re-add."""
    return (
        "\n".join(
            [
                f"P: /devices/virtual/video4linux/video{minor}",
                *([f"N: video{minor}=00"] if node else []),
                "E: SUBSYSTEM=video4linux",
                f"E: DEVNAME=/dev/video{minor}",
                "E: ID_V4L_CAPABILITIES=:capture:",
                f"E: ID_SERIAL_SHORT={serial}",
                f"E: ID_SERIAL=cam_{serial}",
                f"E: ID_V4L_PRODUCT={product}",
                f"E: USEC_INITIALIZED={1000 + minor}",
                f"A: dev=81:{minor}",
            ]
        )
        + "\n\n"
    )


def cameras() -> dict[str, Any]:
    """Three cameras with different mode lists, two that fail, and the records of all six."""
    from controller.testing.v4l2 import (
        EmulatedCamera,
        Format,
        IntervalRange,
        SizeRange,
        discrete,
    )

    c920 = EmulatedCamera(
        [
            Format(
                "MJPG",
                (
                    discrete(640, 480, 30),
                    discrete(1920, 1080, 30, 24, 15),
                    discrete(1280, 720, 30, 15),
                ),
            ),
            Format("YUYV", (discrete(640, 480, 30), discrete(1920, 1080, 5))),
            Format("H264", (discrete(1920, 1080, 30), discrete(1280, 720, 30))),
        ]
    )
    raw_only = EmulatedCamera(
        [
            Format(
                "YUYV",
                (discrete(320, 240, 30), discrete(640, 480, 30, 15), discrete(1280, 960, 7.5)),
            ),
        ]
    )
    every_60th = IntervalRange((1, 60), (1, 1), (1, 60))
    thirtieth_to_fifth = IntervalRange((1, 30), (1, 5))  # continuous: no step
    ranges = EmulatedCamera(
        [
            # sizes on 16x8 steps, intervals 1/60 s apart: 1/60, 2/60 (30 fps), … 1 s
            Format("NV12", SizeRange((64, 1920, 16), (64, 1080, 8), every_60th)),
            # any size from 160x120 to 1280x720, any interval from 1/30 s to 1/5 s
            Format("MJPG", SizeRange((160, 1280, 1), (120, 720, 1), thirtieth_to_fifth, True)),
        ]
    )
    broken, not_v4l2 = EmulatedCamera(fail=errno.EIO), EmulatedCamera(fail=errno.ENOTTY)
    records = (
        node_record(0, "C920", "HD Pro Webcam C920")
        + node_record(2, "RAW1", "Raw Camera")
        + node_record(4, "SOC1", "SoC Camera")
        + node_record(6, "EIO1", "Broken Camera")
        + node_record(8, "NOV4", "Not V4L2")
        + node_record(99, "GONE", "No Node", node=False)  # cannot be opened
    )
    # Every node of the testbed needs a handler: after Testbed.clear() umockdev's default
    # ioctl socket is gone, and an ioctl on a node without one makes the preload exit(1).
    handlers = {"/dev/video0": c920, "/dev/video2": raw_only, "/dev/video4": ranges}
    return {
        "records": records,
        "handlers": handlers | {"/dev/video6": broken, "/dev/video8": not_v4l2},
    }


@pytest.fixture
def emulated(testbed: Any) -> Iterator[dict[str, Any]]:
    from controller.testing.v4l2 import attached

    setup = cameras()
    testbed.add_from_string(setup["records"])
    with attached(testbed, setup["handlers"]):
        yield setup["handlers"]


C920_MODES = (
    M("MJPG", 1920, 1080, 30, 24, 15),
    M("MJPG", 1280, 720, 30, 15),
    M("MJPG", 640, 480, 30),
    M("YUYV", 1920, 1080, 5),
    M("YUYV", 640, 480, 30),
    M("H264", 1920, 1080, 30),
    M("H264", 1280, 720, 30),
)
RAW_MODES = (M("YUYV", 1280, 960, 7.5), M("YUYV", 640, 480, 30, 15), M("YUYV", 320, 240, 30))


@pytest.mark.umockdev
def test_reads_formats_sizes_and_rates_of_each_camera(emulated: dict[str, Any]) -> None:
    by_node = {d.node: d for d in enumerate_devices()}

    c920, raw = by_node["/dev/video0"], by_node["/dev/video2"]
    assert (c920.modes, c920.modes_error) == (C920_MODES, None)
    assert c920.formats == ("MJPG", "YUYV", "H264")
    assert (raw.modes, raw.formats, raw.modes_error) == (RAW_MODES, ("YUYV",), None)
    # Every list was walked to its end (EINVAL), one ioctl per answer plus one per list:
    # 3 formats + 1; 3 + 2 + 2 sizes + 3; 3 + 2 + 1 + 1 + 1 + 1 + 1 rates of 7 sizes + 7.
    assert len(emulated["/dev/video0"].calls) == 4 + 10 + 17


@pytest.mark.umockdev
def test_ranges_expand_to_common_sizes_and_rates_on_their_steps(emulated: dict[str, Any]) -> None:
    soc = next(d for d in enumerate_devices() if d.node == "/dev/video4")

    nv12 = [(m.width, m.height) for m in soc.modes if m.format == "NV12"]
    # the common sizes on 16x8 steps from 64x64 (960x540 is off the height steps), and the
    # largest, 1920x1080, listed once
    assert nv12 == [
        (1920, 1080), (1280, 1024), (1280, 960), (1280, 720), (1024, 768), (800, 600),
        (640, 480), (640, 360), (352, 288), (320, 240), (160, 120),
    ]  # fmt: skip
    # intervals k/60 s: 60, 30, 20, 15, 10 and 5 fps are on the steps (24, 25, 50 are not)
    assert {m.fps for m in soc.modes if m.format == "NV12"} == {(60, 30, 20, 15, 10, 5)}
    mjpg = [(m.width, m.height) for m in soc.modes if m.format == "MJPG"]
    assert mjpg == [
        (1280, 720), (960, 540), (800, 600), (640, 480), (640, 360), (352, 288), (320, 240),
        (160, 120),
    ]  # fmt: skip
    assert {m.fps for m in soc.modes if m.format == "MJPG"} == {(30, 25, 24, 20, 15, 10, 5)}
    assert best_mode(soc.modes) == ModeChoice("NV12", 1920, 1080, 30)


@pytest.mark.umockdev
def test_unreadable_nodes_give_no_modes_and_the_reason(emulated: dict[str, Any]) -> None:
    by_node = {d.node: d for d in enumerate_devices()}

    assert [n for n, d in by_node.items() if d.modes] == [
        "/dev/video0",
        "/dev/video2",
        "/dev/video4",
    ]
    failed = {n: (d.modes, d.formats, d.modes_error) for n, d in by_node.items() if not d.modes}
    assert failed == {
        "/dev/video6": ((), (), "VIDIOC_ENUM_FMT: Input/output error"),
        "/dev/video8": ((), (), "VIDIOC_ENUM_FMT: Inappropriate ioctl for device"),
        "/dev/video99": ((), (), "cannot open /dev/video99: No such file or directory"),
    }
    assert emulated["/dev/video6"].calls == [v4l2_modes.VIDIOC_ENUM_FMT]  # gave up at once


@pytest.mark.umockdev
def test_a_driver_listing_nothing_usable_gives_the_reason(testbed: Any) -> None:
    from controller.testing.v4l2 import EmulatedCamera, Format, Size, attached

    testbed.add_from_string(node_record(0, "ODD1", "Odd") + node_record(2, "NONE", "Empty"))
    odd = EmulatedCamera([Format("MJPG", (Size(0, 0, ((1, 30),)), Size(640, 480, ((1, 0),))))])
    with attached(testbed, {"/dev/video0": odd, "/dev/video2": EmulatedCamera([])}):
        assert read_modes("/dev/video0") == ModeRead(
            (M("MJPG", 640, 480),),
            None,  # a 0x0 size is left out, a 1/0 interval too
        )
        assert read_modes("/dev/video2") == ModeRead((), "VIDIOC_ENUM_FMT: no capture formats")


@pytest.mark.umockdev
def test_modes_are_read_once_per_appearance(emulated: dict[str, Any], testbed: Any) -> None:
    cache = ModeCache()
    first = enumerate_devices(modes=cache)
    calls = {node: len(cam.calls) for node, cam in emulated.items()}
    assert cache.reads == 6 and all(calls.values())

    for _ in range(3):  # passes with nothing plugged: not one open, not one ioctl
        assert enumerate_devices(modes=cache) == first
    assert cache.reads == 6
    assert {node: len(cam.calls) for node, cam in emulated.items()} == calls

    # Unplugged for a pass, then back: forgotten, and read again.
    sys_path = "/sys/devices/virtual/video4linux/video2"
    testbed.uevent(sys_path, "remove")
    testbed.remove_device(sys_path)
    assert "/dev/video2" not in [d.node for d in enumerate_devices(modes=cache)]
    testbed.add_from_string(node_record(2, "RAW1", "Raw Camera"))
    again = {d.node: d for d in enumerate_devices(modes=cache)}
    assert again["/dev/video2"].modes == RAW_MODES
    assert cache.reads == 7
    assert len(emulated["/dev/video2"].calls) == 2 * calls["/dev/video2"]


def test_a_new_appearance_between_two_passes_is_read_again() -> None:
    read: list[str] = []

    def reader(node: str) -> ModeRead:
        read.append(node)
        return ModeRead((M("MJPG", 640, 480, 30),))

    cache, device = ModeCache(reader), Device(node="/dev/video0")
    cache.with_modes([(("/dev/video0", "t1"), device)])
    cache.with_modes([(("/dev/video0", "t1"), device)])
    cache.with_modes([(("/dev/video0", "t2"), device)])  # replugged: udev stamped it anew
    assert read == ["/dev/video0", "/dev/video0"]
    # facts udev changed under the same appearance (a `change` uevent): new facts, same modes
    linked = Device(node="/dev/video0", by_path="/dev/v4l/by-path/x-video-index0")
    (changed,) = cache.with_modes([(("/dev/video0", "t2"), linked)])
    assert (changed.by_path, changed.modes) == (linked.by_path, (M("MJPG", 640, 480, 30),))
    assert len(read) == 2


def test_a_failed_reading_is_retried_after_a_while() -> None:
    now, answers = [0.0], [ModeRead((), "cannot open /dev/video0: Permission denied")]

    def reader(node: str) -> ModeRead:
        return answers.pop(0)

    cache = ModeCache(reader, retry_after=30, clock=lambda: now[0])
    listing = [(("/dev/video0",), Device(node="/dev/video0"))]
    (failed,) = cache.with_modes(listing)
    assert failed.modes_error == "cannot open /dev/video0: Permission denied"
    answers.append(ModeRead((M("YUYV", 640, 480, 30),)))
    now[0] = 29.0
    assert cache.with_modes(listing) == [failed]  # not yet
    now[0] = 30.0
    (read,) = cache.with_modes(listing)
    assert (read.modes, read.formats, read.modes_error) == (
        (M("YUYV", 640, 480, 30),),
        ("YUYV",),
        None,
    )
    now[0] = 1000.0
    assert cache.with_modes(listing) == [read]  # a success is kept for the whole appearance


@pytest.mark.umockdev
def test_the_controllers_device_source_reads_modes_once(emulated: dict[str, Any]) -> None:
    source = UdevDevices()
    first = source.current()
    calls = sum(len(cam.calls) for cam in emulated.values())
    assert source.current() == first
    assert sum(len(cam.calls) for cam in emulated.values()) == calls
    assert next(d for d in first if d.node == "/dev/video0").modes == C920_MODES


def test_structs_and_request_numbers_are_the_kernels() -> None:
    # linux/videodev2.h on x86-64 (and every other Linux ABI: the structs hold only __u32)
    assert (
        v4l2_modes.VIDIOC_ENUM_FMT,
        v4l2_modes.VIDIOC_ENUM_FRAMESIZES,
        v4l2_modes.VIDIOC_ENUM_FRAMEINTERVALS,
    ) == (0xC0405602, 0xC02C564A, 0xC034564B)
    assert v4l2_modes.fourcc_text(0x47504A4D) == "MJPG"
    assert v4l2_modes.fourcc_text(int.from_bytes(b"Y16 ", "little")) == "Y16"


# ---------------------------------------------------------------------------------------------
# choosing a mode (pure)

C270 = (
    M("MJPG", 1280, 720, 30, 15),
    M("MJPG", 640, 480, 30, 15),
    M("YUYV", 1280, 960, 7.5),
    M("YUYV", 640, 480, 30),
)


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        pytest.param(C920_MODES, ModeChoice("MJPG", 1920, 1080, 30), id="largest-mjpeg"),
        pytest.param(RAW_MODES, ModeChoice("YUYV", 640, 480, 30), id="raw-only-skips-7.5fps"),
        pytest.param(C270, ModeChoice("MJPG", 1280, 720, 30), id="c270"),
        pytest.param(
            (M("YUYV", 1280, 720, 30), M("MJPG", 1280, 720, 30)),
            ModeChoice("MJPG", 1280, 720, 30),
            id="mjpeg-before-yuyv-at-one-size",
        ),
        pytest.param(
            (M("MJPG", 1280, 720, 30), M("YUYV", 1920, 1080, 30)),
            ModeChoice("YUYV", 1920, 1080, 30),
            id="size-before-format",
        ),
        pytest.param(
            (M("MJPG", 1280, 720, 60, 30, 15),), ModeChoice("MJPG", 1280, 720, 30), id="30-over-60"
        ),
        pytest.param(
            (M("MJPG", 1280, 720, 60, 50),), ModeChoice("MJPG", 1280, 720, 50), id="lowest-above-30"
        ),
        pytest.param(
            (M("MJPG", 1280, 720, 30000 / 1001),), ModeChoice("MJPG", 1280, 720, 29.97), id="ntsc"
        ),
        pytest.param(
            (M("YUYV", 1920, 1080, 5), M("YUYV", 1280, 720, 10), M("YUYV", 640, 480, 10)),
            ModeChoice("YUYV", 1280, 720, 10),
            id="none-smooth-takes-the-smoothest-then-largest",
        ),
        pytest.param((M("H264", 1920, 1080, 30), M("GREY", 640, 480, 30)), None, id="nothing"),
        pytest.param((M("MJPG", 640, 480),), None, id="no-rates-known"),
        pytest.param((), None, id="no-modes"),
    ],
)
def test_best_mode(modes: tuple[Mode, ...], expected: ModeChoice | None) -> None:
    assert best_mode(modes) == expected


def test_best_mode_for_passthrough_is_h264_only() -> None:
    assert best_mode(C920_MODES, passthrough=True) == ModeChoice("H264", 1920, 1080, 30)
    assert best_mode(RAW_MODES, passthrough=True) is None
    assert ModeChoice("H264", 1920, 1080, 30).input == "h264"
    assert str(ModeChoice("YUYV", 1280, 960, 7.5)) == "YUYV 1280x960@7.5"


def test_supports_matches_input_size_and_rate() -> None:
    assert supports(C270, "mjpeg", 1280, 720, 15)
    assert supports(C270, "yuyv422", 640, 480, 30)
    assert not supports(C270, "yuyv422", 1280, 720, 30)  # YUYV has no 1280x720
    assert not supports(C270, "mjpeg", 1280, 720, 25)  # no 25 fps
    assert not supports(C270, "h264", 1280, 720, 30)
    assert supports((M("MJPG", 1280, 720, 30000 / 1001),), "mjpeg", 1280, 720, 30)  # 29.97
    assert supports((M("JPEG", 640, 480, 30),), "mjpeg", 640, 480, 30)  # another name of MJPEG


def test_closest_modes_by_size_then_format_then_rate() -> None:
    # Asked: YUYV 1280x720@30, which the C270 lacks.
    assert [str(c) for c in closest_modes(C270, "yuyv422", 1280, 720, 30)] == [
        "MJPG 1280x720@30",  # same size, another format
        "YUYV 1280x960@7.5",  # 240 px off
        "YUYV 640x480@30",  # 880 px off, same format, before MJPG 640x480
    ]
    assert [str(c) for c in closest_modes(C270, "mjpeg", 1280, 720, 20, count=1)] == [
        "MJPG 1280x720@15"  # the nearest rate; ties go to the higher one
    ]
    # formats camctl cannot use are never proposed
    assert closest_modes((M("GREY", 1280, 720, 30),), "mjpeg", 1280, 720, 30) == []


def test_summary_lists_the_largest_sizes_per_format() -> None:
    assert summary(C920_MODES) == (
        "MJPG 1920x1080@30, 1280x720@30, 640x480@30; YUYV 1920x1080@5, 640x480@30;"
        " H264 1920x1080@30, 1280x720@30"
    )
    many = (*(M("YUYV", 100 + 16 * i, 100, 30) for i in range(5)), M("NV12", 64, 64))
    assert summary(many, sizes_per_format=2) == "YUYV 164x100@30, 148x100@30 (+3); NV12 64x64@?"


# ---------------------------------------------------------------------------------------------
# the simulation file


def test_simulated_modes_keep_their_order_and_give_the_formats(tmp_path: Path) -> None:
    file = tmp_path / "devices.yaml"
    file.write_text(
        "devices:\n  - node: /dev/video0\n    modes:\n"
        "      - {format: YUYV, width: 640, height: 480, fps: [30, 29.97, 7.5]}\n"
        "      - {format: MJPG, width: 1280, height: 720, fps: [30.0]}\n"
        "  - node: /dev/video2\n    modesError: 'cannot open /dev/video2: Permission denied'\n"
    )
    cam, broken = load_simulated(file)
    assert cam.formats == ("YUYV", "MJPG")
    assert cam.modes == (M("YUYV", 640, 480, 30, 29.97, 7.5), M("MJPG", 1280, 720, 30))
    assert cam.model_dump(mode="json")["modes"][1]["fps"] == [30]  # not 30.0
    assert (broken.modes, broken.modes_error) == ((), "cannot open /dev/video2: Permission denied")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(
            "{format: MJPG, width: 640, height: 480, fps: [30, 0]}",
            "FILE:4:59: devices[0].modes[0].fps[1]: Input should be greater than 0",
            id="rate",
        ),
        pytest.param(
            "{format: MJPEG, width: 640, height: 480}",
            "FILE:4:18: devices[0].modes[0].format: String should match pattern"
            " '^[0-9A-Za-z_.-]{1,4}$'",
            id="fourcc",
        ),
        pytest.param(
            "{format: MJPG, width: 640}",
            "FILE:4:9: devices[0].modes[0].height: Field required",
            id="missing",
        ),
        pytest.param(
            "{format: MJPG, width: 640, height: 480, size: big}",
            "FILE:4:49: devices[0].modes[0].size: Extra inputs are not permitted",
            id="unknown",
        ),
    ],
)
def test_a_bad_simulated_mode_is_located(tmp_path: Path, mode: str, expected: str) -> None:
    file = tmp_path / "devices.yaml"
    file.write_text(f"devices:\n  - node: /dev/video0\n    modes:\n      - {mode}\n")
    with pytest.raises(DeviceFileError) as info:
        load_simulated(file)
    assert str(info.value).replace(str(file), "FILE") == expected


# ---------------------------------------------------------------------------------------------
# camctl devices


def camctl(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.umockdev
def test_devices_wide_and_json_show_what_the_cameras_answered(emulated: dict[str, Any]) -> None:
    rows = {line.split()[0]: line for line in camctl("devices", "-o", "wide").splitlines()}
    assert rows["NODE"].split()[-1] == "MODES"
    assert rows["/dev/video0"].endswith(
        "MJPG 1920x1080@30, 1280x720@30, 640x480@30; YUYV 1920x1080@5, 640x480@30;"
        " H264 1920x1080@30, 1280x720@30"
    )
    assert rows["/dev/video2"].endswith("YUYV 1280x960@7.5, 640x480@30, 320x240@30")
    assert rows["/dev/video4"].endswith(
        "NV12 1920x1080@60, 1280x1024@60, 1280x960@60 (+8);"
        " MJPG 1280x720@30, 960x540@30, 800x600@30 (+5)"
    )
    assert rows["/dev/video6"].endswith("? (VIDIOC_ENUM_FMT: Input/output error)")
    assert "MODES" not in camctl("devices")  # the plain table stays narrow

    listed = {d["node"]: d for d in json.loads(camctl("devices", "-o", "json"))}
    assert listed["/dev/video2"]["modes"] == [
        {"format": "YUYV", "width": 1280, "height": 960, "fps": [7.5]},
        {"format": "YUYV", "width": 640, "height": 480, "fps": [30, 15]},
        {"format": "YUYV", "width": 320, "height": 240, "fps": [30]},
    ]
    assert (
        listed["/dev/video99"]["modesError"]
        == "cannot open /dev/video99: No such file or directory"
    )


@pytest.mark.umockdev
def test_suggest_proposes_each_cameras_best_mode(emulated: dict[str, Any], tmp_path: Path) -> None:
    suggested = camctl("devices", "--suggest")
    out = tmp_path / "suggested.yaml"
    out.write_text(suggested)
    loaded = load([out])
    assert loaded.errors == []

    serial = {c.metadata.name: c.spec.match.serial for c in loaded.desired.cameras.values()}
    streams = {serial[s.spec.camera]: s for s in loaded.desired.streams.values()}
    assert len(serial) == 6 and set(streams) == set(serial.values())  # a Stream per Camera
    assert all(s.metadata.name == s.spec.camera for s in streams.values())
    shown = {key: (s.spec.video.input, s.spec.video.width, s.spec.video.height, s.spec.video.fps)
             for key, s in streams.items() if "video" in s.spec.model_fields_set}  # fmt: skip
    assert shown == {
        "C920": ("mjpeg", 1920, 1080, 30),
        "RAW1": ("yuyv422", 640, 480, 30),
        "SOC1": ("nv12", 1920, 1080, 30),
    }
    # the choice is explained, the passthrough offered where the camera has H.264, and a
    # camera whose modes are unknown gets a Stream without video and the reason
    assert "# or pass its H.264 through unencoded: {input: h264, codec: copy, width: 1920," in (
        suggested
    )
    assert suggested.count("pass its H.264 through") == 1
    assert "# VIDIOC_ENUM_FMT: Input/output error: set spec.video to a mode" in suggested


def test_suggest_from_the_example_file(tmp_path: Path) -> None:
    suggested = camctl("devices", "--simulate-devices", EXAMPLE, "--suggest")
    out = tmp_path / "suggested.yaml"
    out.write_text(suggested)
    loaded = load([out])
    assert loaded.errors == []
    videos = sorted(
        (v.input, v.width, v.height, v.fps)
        for v in (s.spec.video for s in loaded.desired.streams.values())
    )
    assert videos == [
        ("mjpeg", 1280, 720, 30),
        ("mjpeg", 1920, 1080, 30),
        ("mjpeg", 1920, 1080, 30),
    ]
    # every suggested mode is one the simulated camera offers
    devices = {d.serial or d.usb_path: d for d in load_simulated(EXAMPLE)}
    for stream in loaded.desired.streams.values():
        camera = loaded.desired.camera_of(stream)
        assert camera is not None
        device = devices[camera.spec.match.serial or camera.spec.match.usb_path]
        video = stream.spec.video
        assert supports(device.modes, video.input, video.width, video.height, video.fps)


# ---------------------------------------------------------------------------------------------
# the planner: the mode a Stream captures in, from the modes the cameras answered


def plan_for(devices: list[Device], streams: dict[str, dict[str, Any]]) -> Plan:
    """A Camera per serial (named after it, lower case) with one Stream `spec`, planned
    against an empty MediaMTX."""
    resources = []
    for serial, video in streams.items():
        name = serial.lower()
        camera = {"match": {"serial": serial}}
        stream = {"camera": name, "path": f"cams/{name}", **video}
        for kind, spec in (("Camera", camera), ("Stream", stream)):
            doc = {"apiVersion": "camctl.dev/v1alpha1", "kind": kind, "metadata": {"name": name}}
            resources.append((parse_resource({**doc, "spec": spec}), "cams.yaml"))
    world, problems = assemble(resources)
    assert problems == []
    return plan(world, devices, {}, {}, Settings(), datetime(2026, 11, 28, tzinfo=UTC))


def ready_and_video(result: Plan, name: str) -> tuple[str, str, str, Any]:
    status = result.statuses[Ref("Stream", "default", name)]
    assert isinstance(status, StreamStatus)
    ready = find(status.conditions, "Ready")
    assert ready is not None
    video = status.video.model_dump(by_alias=True) if status.video else None
    return ready.status, ready.reason, ready.message, video


def added(result: Plan, name: str) -> str | None:
    found = [a for a in result.actions if a.path == f"cams/{name}"]
    return str(found[0].config["runOnInit"]) if found else None


@pytest.mark.umockdev
def test_streams_get_the_modes_their_cameras_answered(emulated: dict[str, Any]) -> None:
    devices = UdevDevices().current()
    result = plan_for(
        devices,
        {
            "C920": {},  # no video at all: the camera's best mode
            "RAW1": {"video": {"input": "mjpeg", "width": 1280, "height": 720, "fps": 30}},
            # part of a mode, the rest chosen: MJPEG before NV12 at the same size
            "SOC1": {"video": {"width": 640, "height": 480}},
            "EIO1": {"video": {"input": "mjpeg", "width": 4000, "height": 3000, "fps": 90}},
        },
    )
    status, reason, _, video = ready_and_video(result, "c920")
    assert (status, reason) == ("False", "Reconciling")  # being added
    assert video == {
        "input": "mjpeg",
        "width": 1920,
        "height": 1080,
        "fps": 30,
        "chosenBy": "camera",
    }
    assert "-input_format mjpeg -video_size 1920x1080 -framerate 30 " in (
        added(result, "c920") or ""
    )

    # The raw-only camera offers no MJPEG: refused, the closest named, nothing written.
    status, reason, message, video = ready_and_video(result, "raw1")
    assert (status, reason, video) == ("False", "ModeUnsupported", None)
    assert message == (
        "the camera does not offer mjpeg 1280x720@30; closest: YUYV 1280x960@7.5, "
        "YUYV 640x480@30, YUYV 320x240@30 (`camctl devices -o wide` lists them all)"
    )
    assert added(result, "raw1") is None
    stalled = find(result.statuses[Ref("Stream", "default", "raw1")].conditions, "Stalled")
    assert stalled is not None and stalled.status == "True", "a person must change it"

    assert ready_and_video(result, "soc1")[3] == {
        "input": "mjpeg", "width": 640, "height": 480, "fps": 30, "chosenBy": "camera"
    }  # fmt: skip
    # Modes unknown (the node answered EIO): never refused; the Stream gets what it asks.
    status, reason, _, video = ready_and_video(result, "eio1")
    assert reason == "Reconciling" and video is not None and video["chosenBy"] == "spec"
    assert "-video_size 4000x3000 -framerate 90 " in (added(result, "eio1") or "")


def test_a_declared_mode_the_camera_offers_is_kept_as_declared() -> None:
    c920 = Device(node="/dev/video0", serial="C920", modes=C920_MODES)
    result = plan_for([c920], {"C920": {"video": {"width": 1280, "height": 720, "fps": 15}}})
    assert ready_and_video(result, "c920")[3] == {
        "input": "mjpeg", "width": 1280, "height": 720, "fps": 15, "chosenBy": "camera"
    }  # fmt: skip
    exact = {"video": {"input": "yuyv422", "width": 640, "height": 480, "fps": 30}}
    result = plan_for([c920], {"C920": exact})
    assert ready_and_video(result, "c920")[3]["chosenBy"] == "spec"
    too_fast = {"video": {"input": "mjpeg", "width": 1920, "height": 1080, "fps": 60}}
    status, reason, message, _ = ready_and_video(plan_for([c920], {"C920": too_fast}), "c920")
    assert (status, reason) == ("False", "ModeUnsupported")
    assert "closest: MJPG 1920x1080@30, H264 1920x1080@30, YUYV 1920x1080@5 (" in message


def test_passthrough_without_a_mode_takes_the_cameras_h264() -> None:
    c920 = Device(node="/dev/video0", serial="C920", modes=C920_MODES)
    result = plan_for([c920], {"C920": {"video": {"codec": "copy"}}})
    assert ready_and_video(result, "c920")[3] == {
        "input": "h264", "width": 1920, "height": 1080, "fps": 30, "chosenBy": "camera"
    }  # fmt: skip
    assert "-input_format h264 -video_size 1920x1080 -framerate 30 " in (
        added(result, "c920") or ""
    )
    raw = Device(node="/dev/video2", serial="RAW1", modes=RAW_MODES)
    status, reason, message, _ = ready_and_video(
        plan_for([raw], {"RAW1": {"video": {"codec": "copy"}}}), "raw1"
    )
    assert (status, reason) == ("False", "ModeUnsupported") and "no mode fits" in message


def test_without_known_modes_the_defaults_stand_in() -> None:
    unknown = Device(node="/dev/video0", serial="X1", modes_error="cannot open: Permission denied")
    result = plan_for([unknown], {"X1": {}})
    assert ready_and_video(result, "x1")[3] == {
        "input": "mjpeg", "width": 1280, "height": 720, "fps": 30, "chosenBy": "default"
    }  # fmt: skip
