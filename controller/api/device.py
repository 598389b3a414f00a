"""A V4L2 capture device as observed through udev (or read from a simulation file).

The observer (`observe.v4l2`) produces these; the planner matches Cameras against them.
`modes` says what the camera can capture (read once per appearance with the V4L2
`VIDIOC_ENUM_*` ioctls); `api.modes` picks from them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

MAX_MODES = 512  # formats x frame sizes of one device
MAX_RATES = 32  # frame rates of one mode
MAX_SIDE = 16384


def tidy_rate(fps: float) -> int | float:
    """30.0 -> 30, 29.97002997 -> 29.97: frame rates as people write them."""
    whole = round(fps)
    return int(whole) if abs(fps - whole) < 0.005 else round(fps, 2)


FrameRate = Annotated[
    float,
    Field(gt=0, le=1000),
    AfterValidator(tidy_rate),
    PlainSerializer(tidy_rate, when_used="json"),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1000}),
]
# A V4L2 pixel format code (FourCC) without its trailing spaces: MJPG, YUYV, H264, NV12, Y16.
FourCC = Annotated[str, Field(pattern=r"^[0-9A-Za-z_.-]{1,4}$", examples=["MJPG"])]


class Mode(BaseModel):
    """One pixel format at one frame size, and the frame rates the camera offers for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: FourCC = Field(description="Pixel format (FourCC): MJPG, YUYV, H264, NV12, …")
    width: int = Field(ge=1, le=MAX_SIDE)
    height: int = Field(ge=1, le=MAX_SIDE)
    fps: tuple[FrameRate, ...] = Field(
        default=(),
        max_length=MAX_RATES,
        description="Frame rates, highest first; empty when the driver does not list them",
    )


class Device(BaseModel):
    """The facts udev knows about one V4L2 capture node, and the modes it offers."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    node: str = Field(description="Device node, e.g. /dev/video0 (moves on replug)")
    serial: str | None = Field(default=None, description="ID_SERIAL_SHORT")
    vendor_id: str | None = Field(default=None, alias="vendorId", description="ID_VENDOR_ID")
    product_id: str | None = Field(default=None, alias="productId", description="ID_MODEL_ID")
    usb_path: str | None = Field(default=None, alias="usbPath", description="ID_PATH")
    product: str | None = Field(default=None, description="ID_V4L_PRODUCT or ID_MODEL")
    driver: str | None = Field(default=None, description="ID_USB_DRIVER, e.g. uvcvideo")
    by_id: str | None = Field(default=None, alias="byId", description="/dev/v4l/by-id/… link")
    by_path: str | None = Field(default=None, alias="byPath", description="/dev/v4l/by-path/… link")
    formats: tuple[str, ...] = Field(
        default=(), description="Pixel formats (FourCC); by default those of modes, in order"
    )
    modes: tuple[Mode, ...] = Field(
        default=(),
        max_length=MAX_MODES,
        description="What the camera can capture: one entry per pixel format and frame size",
    )
    modes_error: str | None = Field(
        default=None,
        alias="modesError",
        max_length=300,
        description="Why modes is empty: the node could not be opened or did not answer",
    )

    @model_validator(mode="before")
    @classmethod
    def _formats_from_modes(cls, data: Any) -> Any:
        if isinstance(data, dict) and "formats" not in data and data.get("modes"):
            formats: dict[str, None] = {}
            for mode in data["modes"]:
                fourcc = mode.format if isinstance(mode, Mode) else _get(mode, "format")
                if isinstance(fourcc, str):
                    formats.setdefault(fourcc)
            data = {**data, "formats": tuple(formats)}
        return data


def _get(mode: Any, key: str) -> Any:
    return mode.get(key) if isinstance(mode, dict) else None
