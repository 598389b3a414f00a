"""The shapes of the view's JSON-RPC methods: parameters and results.

One set of pydantic models validates the parameters, generates the OpenRPC document and
types the Python client, so the three cannot drift apart. Names are camelCase on the wire.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controller.api.device import Device
from controller.api.kinds import Camera, Recording, Stream
from controller.view import selectors

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
Name = Annotated[str, Field(min_length=1, max_length=253)]
EventKind = Literal["Camera", "Stream", "Recording", "Device", "Controller"]


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


class Change(Out):
    from_: Any = Field(None, alias="from")
    to: Any = None


class PlannedAction(Out):
    op: Literal["add", "patch", "delete"]
    path: str
    stream: str | None = None
    diff: dict[str, Change]


class PlanResult(Out):
    converged: bool
    actions: list[PlannedAction]
    notes: list[str]
    mediamtx_reachable: bool
    version: int
    based_on: str | None = Field(None, description="When the pass whose snapshots it used ended")


class ControllerStatus(Out):
    node: str | None
    ready: bool = Field(description="A pass has finished since the view started")
    started: str
    passes: int
    last_pass: str | None = None
    last_success: str | None = None
    last_reasons: list[str] = Field(default_factory=list)
    mediamtx_reachable: bool | None = None
    mediamtx_version: str | None = None
    errors: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
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
