"""A V4L2 capture device as observed through udev (or read from a simulation file).

The observer (`observe.v4l2`) produces these; the planner matches Cameras against them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Device(BaseModel):
    """The facts udev knows about one V4L2 capture node."""

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
        default=(), description="Pixel formats (simulation only: V4L2 ioctls are not read)"
    )
