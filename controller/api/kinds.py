"""The three kinds people declare: Camera, Stream and Recording, with their status.

One document format serves files in git and Kubernetes custom resources alike. Spec
models forbid unknown fields, and every rule MediaMTX would enforce with a 400 is checked
here, at load time, so `camctl validate` catches it before anything is applied.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from controller.api.conditions import Condition
from controller.api.device import Device, FrameRate
from controller.api.units import (
    DAY_NS,
    check_path_name,
    normalize_duration,
    parse_bitrate,
    parse_duration,
)

API_VERSION = "camctl.dev/v1alpha1"
GROUP, VERSION = API_VERSION.split("/")
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def _duration(text: str) -> str:
    return normalize_duration(text)


def _bitrate(text: str) -> str:
    parse_bitrate(text)
    return text


Duration = Annotated[
    str,
    AfterValidator(_duration),
    # The pattern is for editors and the CRDs; the validator above says what is wrong.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(\d+(\.\d*)?(ns|us|µs|ms|s|m|h|d))+$|^0$",
            "examples": ["30s", "1h", "7d"],
        }
    ),
]
Bitrate = Annotated[
    str,
    AfterValidator(_bitrate),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?[kKmMgG]?$", "examples": ["2M"]}),
]
PathName = Annotated[
    str, AfterValidator(check_path_name), Field(max_length=255, examples=["cams/front-door"])
]
HexId = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{4}$", examples=["046d"])]
ResourceName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, max_length=253)]


class _Model(BaseModel):
    """Spec parts: camelCase in documents, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class _Resource(_Model):
    """A declared document."""

    if TYPE_CHECKING:
        spec: BaseModel

    @cached_property
    def spec_hash(self) -> int:
        """A stable hash of the spec, computed once: documents never change once loaded."""
        spec = self.spec.model_dump_json(by_alias=True)  # fields in declaration order
        return int.from_bytes(hashlib.sha256(spec.encode()).digest()[:6], "big")


class ObjectMeta(_Model):
    name: ResourceName
    namespace: Annotated[str, Field(pattern=DNS_LABEL, max_length=63)] = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = Field(default=None, description="Set by Kubernetes only")


class Ref(NamedTuple):
    """Identity of one declared resource: `Stream/front-door` (namespace when not default)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        prefix = "" if self.namespace == "default" else f"{self.namespace}/"
        return f"{self.kind}/{prefix}{self.name}"


# --- Camera --------------------------------------------------------------------------


class CameraMatch(_Model):
    """Every field given must match the udev device; prefer stable facts over `device`."""

    serial: str | None = Field(default=None, max_length=128, description="ID_SERIAL_SHORT")
    vendor_id: HexId | None = Field(default=None, description="ID_VENDOR_ID")
    product_id: HexId | None = Field(default=None, description="ID_MODEL_ID")
    usb_path: str | None = Field(default=None, max_length=256, description="ID_PATH")
    device: str | None = Field(
        default=None,
        pattern=r"^/dev/\S+$",
        description="Last resort: /dev/videoN numbers move on replug",
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> CameraMatch:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one of serial, vendorId, productId, usbPath, device")
        return self

    def matches(self, device: Device) -> bool:
        wanted = {
            "serial": self.serial,
            "vendor_id": self.vendor_id and self.vendor_id.lower(),
            "product_id": self.product_id and self.product_id.lower(),
            "usb_path": self.usb_path,
        }
        for field, value in wanted.items():
            actual = getattr(device, field)
            if value is not None and (actual or "").lower() != value.lower():
                return False
        return self.device is None or self.device in (device.node, device.by_id, device.by_path)


# Network sources MediaMTX pulls, by URL scheme (`spec.url`), and the RTSP transports.
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https")
RTSP_SCHEMES = ("rtsp", "rtsps")
Transport = Literal["automatic", "tcp", "udp", "multicast"]
# Query keys that carry secrets (redact() hides them too): they belong in spec.credentials.
SECRET_KEYS = frozenset({"passphrase", "password", "passwd", "pass", "pwd", "token", "secret"})


def _network_url(url: str) -> str:
    """A URL MediaMTX can pull, without credentials (they are never in a document).

    Messages never repeat the URL: a mistaken password in it must not be echoed."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("must not contain blanks or control characters")
    if "$" in url:
        raise ValueError("must not contain $ (MediaMTX expands $VARIABLES in it)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("is not a URL") from None
    if parts.scheme.lower() not in NETWORK_SCHEMES:
        raise ValueError(f"the scheme must be one of {', '.join(NETWORK_SCHEMES)}")
    if "@" in parts.netloc:
        raise ValueError("credentials do not belong in the URL: use spec.credentials")
    if not parts.hostname:
        raise ValueError("names no host")
    if any(key.lower() in SECRET_KEYS for key, _ in parse_qsl(parts.query)):
        raise ValueError("secrets do not belong in the URL: use spec.credentials")
    return url


NetworkURL = Annotated[
    str,
    AfterValidator(_network_url),
    Field(max_length=2048, examples=["rtsp://192.0.2.10:554/h264/ch1/main"]),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(rtsps?|rtmps?|srt|https?)://[^@/?#\s$]+([/?#][^\s$]*)?$",
            "maxLength": 2048,
        }
    ),
]


class SecretRef(_Model):
    name: ResourceName = Field(description="A Secret in the Camera's namespace")


class CameraCredentials(_Model):
    """Where a network camera's user name and password are: never in the document itself."""

    file: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="A YAML file {username, password}, under one of camctl's "
        "--credentials-root folders (a relative path is taken from the first)",
        examples=["/etc/camctl/credentials/gate.yaml"],
    )
    secret_ref: SecretRef | None = Field(
        default=None,
        description="Kubernetes: a Secret with the keys username and password "
        "(camctl run --kubernetes --read-secrets)",
    )

    @model_validator(mode="after")
    def _one_place(self) -> CameraCredentials:
        if (self.file is None) == (self.secret_ref is None):
            raise ValueError("give one of file or secretRef")
        return self


class CameraSpec(_Model):
    node: str | None = Field(
        default=None, max_length=253, description="Which machine's controller owns the camera"
    )
    match: CameraMatch | None = Field(
        default=None, description="A V4L2 camera: every field given must match the udev device"
    )
    url: NetworkURL | None = Field(
        default=None,
        description="A network camera MediaMTX pulls: rtsp, rtsps, rtmp, rtmps, srt, http(s)",
    )
    credentials: CameraCredentials | None = Field(
        default=None, description="The network camera's user name and password"
    )
    transport: Transport = Field(
        default="automatic", description="RTSP transport MediaMTX (or ffmpeg) pulls with"
    )

    @field_validator("url")
    @classmethod
    def _not_both(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None and info.data.get("match") is not None:
            raise ValueError(
                "give spec.match (a V4L2 camera) or spec.url (a network one), not both"
            )
        return url

    @field_validator("credentials")
    @classmethod
    def _of_a_network_camera(
        cls, credentials: CameraCredentials | None, info: ValidationInfo
    ) -> CameraCredentials | None:
        if credentials is not None and info.data.get("match") is not None:
            raise ValueError("credentials are for a network camera (spec.url)")
        return credentials

    @field_validator("transport")
    @classmethod
    def _rtsp_only(cls, transport: Transport, info: ValidationInfo) -> Transport:
        url = info.data.get("url")
        if transport != "automatic" and url and urlsplit(url).scheme.lower() not in RTSP_SCHEMES:
            raise ValueError("a transport other than automatic is for rtsp:// and rtsps:// only")
        if transport != "automatic" and info.data.get("match") is not None:
            raise ValueError("transport is for a network camera (spec.url)")
        return transport

    @model_validator(mode="after")
    def _a_source(self) -> CameraSpec:
        if self.match is None and self.url is None:
            raise ValueError("give spec.match (a V4L2 camera) or spec.url (a network camera)")
        return self

    @property
    def network(self) -> bool:
        return self.url is not None


class SourceStatus(_Model):
    """A network camera as MediaMTX sees it: is it receiving from the camera, since when."""

    url: str = Field(description="spec.url; credentials are never shown")
    path: str | None = Field(default=None, description="The MediaMTX path that pulls it")
    connected: bool | None = Field(default=None, description="None: not known (onDemand)")
    since: str | None = Field(default=None, description="MediaMTX's readyTime (RFC 3339)")


class Flaps(_Model):
    """When the Camera's device came or went lately, and whether camctl is ignoring it."""

    model_config = ConfigDict(frozen=True)

    changes: tuple[datetime, ...] = Field(
        default=(), max_length=64, description="Times the device came or went, oldest first"
    )
    damped_since: datetime | None = Field(
        default=None, description="Set while the device is ignored for flapping"
    )


class CameraStatus(_Model):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    device: Device | None = None
    last_device: Device | None = Field(
        default=None,
        description="While absent: the device it had, as long as its spec has not changed",
    )
    source: SourceStatus | None = Field(
        default=None, description="A network camera: whether MediaMTX receives from it"
    )
    flaps: Flaps | None = Field(
        default=None, description="Recent comings and goings of the device (flap damping)"
    )


class Camera(_Resource):
    api_version: Literal["camctl.dev/v1alpha1"]
    kind: Literal["Camera"]
    metadata: ObjectMeta
    spec: CameraSpec
    status: CameraStatus | None = None


# --- Stream --------------------------------------------------------------------------

DeviceLink = Literal["byId", "byPath", "node"]


class Capture(NamedTuple):
    """What ffmpeg asks the camera for: a pixel format (ffmpeg's name), a size, a rate."""

    input: str
    width: int
    height: int
    fps: float


# What a Stream that leaves its mode out captures when the camera's modes are unknown.
DEFAULT_CAPTURE = Capture("mjpeg", 1280, 720, 30)
VideoInput = Literal["mjpeg", "yuyv422", "h264", "nv12"]


class VideoSpec(_Model):
    # Frozen, hence hashable: streams with the same video share one rendered command line.
    model_config = ConfigDict(frozen=True)

    input: VideoInput | None = Field(
        default=None,
        description="Pixel format read from the camera (ffmpeg -input_format); "
        "default: that of the camera's best mode",
    )
    width: int | None = Field(
        default=None, ge=16, le=7680, description="Default: the camera's best mode"
    )
    height: int | None = Field(
        default=None, ge=16, le=4320, description="Default: the camera's best mode"
    )
    fps: int | None = Field(
        default=None, ge=1, le=240, description="Default: the camera's best mode"
    )
    codec: Literal["h264", "copy"] = Field(
        default="h264", description="h264 encodes; copy passes an H.264 camera's stream through"
    )
    encoder: Literal["libx264", "h264_v4l2m2m"] = "libx264"
    bitrate: Bitrate = "2M"
    keyframe_interval: int | None = Field(
        default=None, ge=1, le=1000, description="Frames between keyframes (default: 2 s)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> VideoSpec:
        if self.codec == "copy" and self.input not in (None, "h264"):
            raise ValueError("codec: copy needs input: h264 (only H.264 passes through as is)")
        if self.codec == "h264" and ((self.width or 0) % 2 or (self.height or 0) % 2):
            raise ValueError("width and height must be even to encode H.264 (yuv420p)")
        return self

    @property
    def capture(self) -> Capture:
        """The mode asked for; what is left out is DEFAULT_CAPTURE's (the planner fills it in
        from the camera's best mode first, where the camera's modes are known)."""
        d = DEFAULT_CAPTURE
        return Capture(
            self.input or d.input, self.width or d.width, self.height or d.height, self.fps or d.fps
        )


class HealthSpec(_Model):
    stall_after: Duration = Field(
        default="15s",
        description="How long a live Stream may receive no bytes (or have no publisher) "
        "before camctl restarts its publisher; 0s turns the watchdog off",
    )


class StreamSpec(_Model):
    camera: ResourceName
    path: PathName | None = Field(default=None, description="MediaMTX path; default the name")
    mode: Literal["always", "onDemand"] = "always"
    adopt: bool = Field(default=False, description="Take over a path camctl did not create")
    device_link: DeviceLink | None = Field(
        default=None, description="Which name of the device ffmpeg opens (default: the setting)"
    )
    video: VideoSpec | None = Field(
        default=None,
        description="How ffmpeg encodes. Without it a network camera is passed through as it "
        "sends, and a V4L2 camera is encoded in its best mode with the defaults",
    )
    health: HealthSpec = Field(default_factory=HealthSpec)


class StreamUrls(_Model):
    rtsp: str
    hls: str
    webrtc: str


class VideoChoice(_Model):
    """The mode the Stream captures in, and who chose it."""

    model_config = ConfigDict(frozen=True)

    input: str
    width: int
    height: int
    fps: FrameRate
    chosen_by: Literal["spec", "camera", "default"] = Field(
        description="spec: as declared; camera: the camera's best mode filled in what the "
        "spec left out; default: the camera's modes are unknown, camctl's defaults did"
    )


class Watchdog(_Model):
    """What the watchdog remembers of a live Stream from one pass to the next."""

    model_config = ConfigDict(frozen=True)

    quiet_since: datetime | None = Field(
        default=None,
        description="Since when no bytes have come in (from the last pass that saw them "
        "grow, or from a (re)start of the watch); none while they flow",
    )
    backoff: NonNegativeInt = Field(
        default=0,
        description="Restarts since the Stream was last healthy for an hour: the next one "
        "waits stallAfter x 2^(backoff-1) after the last, at most 10 minutes",
    )


class StreamStatus(_Model):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    path: str | None = None
    urls: StreamUrls | None = None
    device: str | None = Field(default=None, description="The device name ffmpeg opens")
    device_link: DeviceLink | None = None
    node: str | None = Field(
        default=None,
        description="The node whose camctl owns the path: with `path`, the ownership a node "
        "that lost its state directory reads back",
    )
    video: VideoChoice | None = Field(default=None, description="The mode captured")
    readers: NonNegativeInt | None = None
    bytes_received: NonNegativeInt | None = None
    bitrate: NonNegativeInt | None = Field(
        default=None, description="Inbound bits per second since the sample before"
    )
    sample_time: datetime | None = Field(
        default=None, description="When bytesReceived and bitrate were read from MediaMTX"
    )
    ready_since: datetime | None = Field(
        default=None, description="Since when MediaMTX has had a publisher on the path"
    )
    restarts: NonNegativeInt | None = Field(
        default=None, description="Times camctl restarted the publisher (recreated the path)"
    )
    last_restart_time: datetime | None = None
    watchdog: Watchdog | None = None


class Stream(_Resource):
    api_version: Literal["camctl.dev/v1alpha1"]
    kind: Literal["Stream"]
    metadata: ObjectMeta
    spec: StreamSpec
    status: StreamStatus | None = None

    @property
    def path(self) -> str:
        return self.spec.path or check_path_name(self.metadata.name)


# --- Recording -----------------------------------------------------------------------


def _recording_root(root: str) -> str:
    """Absolute, without `%` (MediaMTX expands it in recordPath) or `.`/`..` parts, so that
    MediaMTX and camctl agree on where the files are."""
    if not root.startswith("/"):
        raise ValueError("root must be an absolute directory")
    if "%" in root or "\0" in root:
        raise ValueError("root must not contain % (MediaMTX expands it) or NUL")
    if any(part in (".", "..") for part in root.split("/")):
        raise ValueError("root must not contain '.' or '..' components")
    return root


RootDir = Annotated[
    str,
    AfterValidator(_recording_root),
    Field(max_length=1024),
    WithJsonSchema({"type": "string", "pattern": r"^/[^%]*$", "maxLength": 1024}),
]


class RecordingSpec(_Model):
    stream: ResourceName
    enabled: bool = Field(
        default=True, description="false stops recording (record: false) and keeps the files"
    )
    format: Literal["fmp4", "mpegts"] = "fmp4"
    segment_duration: Duration = "1h"
    part_duration: Duration = "1s"
    retention: Duration = Field(default="7d", description="recordDeleteAfter; 0s keeps all")
    root: RootDir | None = Field(
        default=None,
        description="Directory the segments go to, as <root>/<path>/<start time>.mp4|.ts; "
        "default: the controller's first --recordings-root. It must be under one of them.",
        examples=["/var/lib/mediamtx/recordings"],
    )

    @model_validator(mode="after")
    def _mediamtx_rules(self) -> RecordingSpec:
        segment = parse_duration(self.segment_duration)
        retention = parse_duration(self.retention)
        if not 0 < segment <= DAY_NS:
            raise ValueError("segmentDuration must be more than 0 and at most 1 day")
        if not 0 < parse_duration(self.part_duration) <= segment:
            raise ValueError("partDuration must be more than 0 and at most segmentDuration")
        if retention and retention < segment:
            raise ValueError("retention must be at least segmentDuration (or 0s to keep all)")
        return self


class SegmentSummary(_Model):
    count: NonNegativeInt = 0
    bytes: NonNegativeInt | None = None
    oldest: datetime | None = Field(default=None, description="Start of the oldest segment")
    newest: datetime | None = Field(default=None, description="Start of the newest segment")


class DiskSpace(_Model):
    free_bytes: NonNegativeInt
    total_bytes: NonNegativeInt


class RecordingStatus(_Model):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    path: str | None = None
    directory: str | None = Field(default=None, description="Where the segments are")
    segments: SegmentSummary | None = None
    retention_horizon: datetime | None = Field(
        default=None, description="Segments that started before this are MediaMTX's to delete"
    )
    disk: DiskSpace | None = None


class Recording(_Resource):
    api_version: Literal["camctl.dev/v1alpha1"]
    kind: Literal["Recording"]
    metadata: ObjectMeta
    spec: RecordingSpec
    status: RecordingStatus | None = None


# --- All kinds -----------------------------------------------------------------------

Resource = Annotated[Camera | Stream | Recording, Field(discriminator="kind")]
Status = CameraStatus | StreamStatus | RecordingStatus
RESOURCE = TypeAdapter[Camera | Stream | Recording](Resource)
KINDS: dict[str, type[Camera] | type[Stream] | type[Recording]] = {
    "Camera": Camera,
    "Stream": Stream,
    "Recording": Recording,
}
PLURALS = {"Camera": "cameras", "Stream": "streams", "Recording": "recordings"}
SHORT_NAMES = {"Camera": "cam", "Stream": "st", "Recording": "rec"}


def ref(resource: Camera | Stream | Recording) -> Ref:
    return Ref(resource.kind, resource.metadata.namespace, resource.metadata.name)


def generation(resource: Camera | Stream | Recording) -> int:
    """Kubernetes' generation, or in file mode a stable hash of the spec standing in for it."""
    if resource.metadata.generation is not None:
        return resource.metadata.generation
    return resource.spec_hash


def parse_resource(document: Any) -> Camera | Stream | Recording:
    """Validate one document; raises pydantic.ValidationError with field locations."""
    return RESOURCE.validate_python(document)
