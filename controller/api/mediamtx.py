"""MediaMTX's own shapes, as camctl reads and writes them (its v3 API, v1.20).

A path's configuration (`PathConf`, from /v3/config/paths/...) and its runtime state
(`Path`, from /v3/paths/list), with the fields camctl uses, named as MediaMTX names them;
MediaMTX sends many more, which camctl carries but never reads. Checked against MediaMTX's
own schema by tests/openapi_contract.py (through tests/mediamtx_facts.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict


class PathConfig(TypedDict, total=False):
    """The fields of a path's configuration camctl manages (see reconcile/render.py)."""

    name: str
    source: str
    sourceOnDemand: bool
    rtspTransport: str
    runOnInit: str
    runOnInitRestart: bool
    runOnDemand: str
    runOnDemandRestart: bool
    record: bool
    recordPath: str
    recordFormat: str
    recordPartDuration: str
    recordSegmentDuration: str
    recordDeleteAfter: str


class PathSource(TypedDict, total=False):
    type: str
    id: str


class PathReader(TypedDict, total=False):
    type: str
    id: str


class PathRuntime(TypedDict, total=False):
    """What MediaMTX says of a path now: whether a source publishes, what it received."""

    name: str
    confName: str
    online: bool  # v1.20's name for `ready`, which it still sends
    ready: bool
    available: bool
    onlineTime: str | None
    readyTime: str | None
    source: PathSource | None
    inboundBytes: int
    outboundBytes: int
    bytesReceived: int  # deprecated names of inboundBytes and outboundBytes
    bytesSent: int
    readers: list[PathReader]
    tracks2: list[dict[str, Any]]  # each track's codec and codecProps (size, rate)


PathConfigs = Mapping[str, PathConfig]  # by path name
Runtime = Mapping[str, PathRuntime]  # by path name
