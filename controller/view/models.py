"""The shapes of the view's JSON-RPC methods: parameters and results.

One set of pydantic models validates the parameters, generates the OpenRPC document and
types the Python client, so the three cannot drift apart. Names are camelCase on the wire.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from controller.api.device import Device
from controller.api.health import Health
from controller.api.kinds import Camera, Recording, Stream
from controller.view import selectors

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
Name = Annotated[str, Field(min_length=1, max_length=253)]
EventKind = Literal["Camera", "Stream", "Recording", "Device", "Controller"]
SEGMENTS_LIMIT = 100
RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)")


def _check_selector(value: str) -> str:
    selectors.parse(value)  # a SelectorError is a ValueError: the params are invalid (-32602)
    return value


LabelSelector = Annotated[
    str,
    AfterValidator(_check_selector),
    Field(
        max_length=selectors.MAX_LENGTH,
        description="kubectl style: zone=garage,site!=lab,env in (a,b),!legacy",
        examples=["site=home,zone!=garage"],
    ),
]


def _rfc3339(value: object) -> object:
    """An RFC 3339 string (offset required) as an aware datetime; anything else is left to
    strict validation, which refuses it."""
    if not isinstance(value, str):
        return value
    if not (match := RFC3339.fullmatch(value)):
        raise ValueError("not an RFC 3339 time with an offset, e.g. 2026-11-28T08:00:00Z")
    when, fraction, offset = match.groups()
    normal = f"{when}.{(fraction or '')[:6]:0<6}{offset}"  # microseconds: drop the rest, as Go
    try:
        return datetime.fromisoformat(normal.upper())
    except ValueError:  # shaped right, yet no date (month 13)
        raise ValueError(f"not a valid time: {value[:40]}") from None


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    Field(description="RFC 3339, with an offset", examples=["2026-11-28T08:00:00Z"]),
]


class Params(BaseModel):
    """Parameters by name; unknown names and loose types are refused (-32602)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True
    )


class Out(BaseModel):
    """A result: camelCase on the wire, unknown fields ignored by clients."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# --- parameters ----------------------------------------------------------------------


class NoParams(Params):
    pass


class PageParams(Params):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")
    continue_: str | None = Field(
        None, alias="continue", max_length=1024, description="From the previous page's answer"
    )


class ListParams(PageParams):
    namespace: str | None = Field(None, max_length=63)
    label_selector: LabelSelector | None = None
    node: str | None = Field(
        None,
        max_length=253,
        description="Only resources whose Camera has this spec.node (Streams and "
        "Recordings through their Camera)",
    )


class GetParams(Params):
    name: Name
    namespace: str = Field("default", max_length=63)


class SegmentsParams(GetParams):
    since: Rfc3339 | None = Field(None, description="Only segments that end after this")
    until: Rfc3339 | None = Field(None, description="Only segments that start before this")
    limit: int = Field(SEGMENTS_LIMIT, ge=1, le=MAX_LIMIT, description="Segments per page")
    offset: int = Field(0, ge=0, description="Segments to skip, counted from the newest")

    @model_validator(mode="after")
    def _ordered(self) -> SegmentsParams:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since is after until")
        return self


class PathListParams(PageParams):
    owned: bool | None = Field(None, description="Only paths camctl owns (true) or not (false)")


class EventsListParams(Params):
    since: int = Field(0, ge=0, description="Events after this sequence number")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)


class SubscribeParams(Params):
    kinds: list[EventKind] | None = Field(None, max_length=5, description="Default: all")
    namespace: str | None = Field(None, max_length=63)
    label_selector: LabelSelector | None = None


class UnsubscribeParams(Params):
    subscription: str = Field(max_length=64)


# --- results -------------------------------------------------------------------------

T = TypeVar("T")


class Page(Out, Generic[T]):
    items: list[T]
    total: int = Field(description="Items matching the filters, on every page")
    continue_: str | None = Field(
        None, alias="continue", description="Pass as `continue` for the next page; null at the end"
    )
    version: int = Field(description="Snapshot version the page was read from")


class CameraList(Page[Camera]):
    pass


class StreamList(Page[Stream]):
    pass


class RecordingList(Page[Recording]):
    pass


class DeviceItem(Device):
    claimed_by: str | None = Field(None, alias="claimedBy", description="e.g. Camera/front-door")


class DeviceList(Page[DeviceItem]):
    pass


class PathItem(Out):
    name: str
    owned: bool = Field(description="camctl created it (it is in the inventory)")
    stream: str | None = Field(None, description="The Stream an owned path serves")
    source: str | None = None
    record: bool | None = None
    ready: bool | None = Field(None, description="MediaMTX has a source publishing")
    readers: int | None = None
    bytes_received: int | None = None
    config: dict[str, Any] | None = Field(
        None, description="Owned paths only: the fields camctl manages, as MediaMTX holds them"
    )


class PathList(Page[PathItem]):
    pass


class SegmentItem(Out):
    start: datetime = Field(description="RFC 3339, UTC")
    duration: float = Field(
        description="Seconds, to the next segment's start (the newest: to its last write)"
    )
    size: int | None = Field(description="Bytes; null when camctl cannot read the files")
    file: str | None = Field(
        description="<path>/<name> under the Recording's root; null when camctl cannot read "
        "the files and lists what MediaMTX lists (/v3/recordings/get)"
    )
    url: str = Field(description="MediaMTX's playback server: this segment as fMP4")


class SegmentPage(Out):
    items: list[SegmentItem] = Field(description="Newest first")
    total: int = Field(description="Segments in the window, on every page")
    limit: int
    offset: int
    directory: str | None = Field(None, description="Where the segments are on this node")


class Change(Out):
    from_: Any = Field(None, alias="from")
    to: Any = None


class PlannedAction(Out):
    op: Literal["add", "patch", "delete", "restart"] = Field(
        description="restart: the watchdog recreates the path (delete, then add)"
    )
    path: str
    stream: str | None = None
    diff: dict[str, Change]


class WithheldAction(PlannedAction):
    reason: Literal["unclean", "unsettled"]
    message: str


class PlanResult(Out):
    converged: bool
    actions: list[PlannedAction]
    withheld: list[WithheldAction] = Field(
        default_factory=list,
        description="Removals held back until the documents load cleanly and settle",
    )
    notes: list[str]
    mediamtx_reachable: bool
    version: int
    based_on: str | None = Field(None, description="When the pass whose snapshots it used ended")


class ControllerStatus(Health):
    node: str | None
    ready: bool = Field(description="A pass has finished since the view started")
    resources: dict[str, int] = Field(description="Declared resources by kind")
    not_ready: int = Field(description="Resources whose Ready condition is not True")
    version: int
    connections: int = Field(0, description="WebSocket connections to the view")


class Event(Out):
    seq: int
    time: str
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    kind: EventKind
    namespace: str | None = None
    name: str
    object: dict[str, Any] | None = Field(
        None, description="The resource, device or controller status after the change"
    )


class EventList(Out):
    events: list[Event]
    latest: int = Field(description="Sequence number of the newest event (0: none yet)")
    oldest: int = Field(description="Oldest sequence number still kept")


class Subscribed(Out):
    subscription: str


class EventNotification(Out):
    """Params of the `events.event` notification sent on a subscribed WebSocket."""

    subscription: str
    event: Event
