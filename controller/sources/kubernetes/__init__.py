"""Desired state from Kubernetes: Camera, Stream and Recording custom resources, via kopf.

kopf only *watches* the three kinds (an index and an event handler per kind; no change
handlers, so kopf never writes to them) into an in-memory store and wakes the controller.
`load()` turns the store into the same `LoadResult` files produce, through `assemble`, so
the planner and the loop are shared with file mode. The way back (statuses, Events,
finalizers) is controller.sinks.kubernetes, which shares this package's store and client.

Ownership: a node's controller owns the Cameras whose `spec.node` is its node (and, with
`claim_unassigned`, those naming no node), the Streams of those Cameras and the Recordings
of those Streams; a Stream whose Camera is gone stays with the node its status names
(`status.node`, beside `status.path`).
Controllers on different nodes never write the same object, so kopf runs standalone.

Safety, as with files: until kopf has listed every kind once, or a list of our own found
nothing at all, the desired state is not clean and nothing is removed; an object whose spec
fails validation keeps its last valid spec in force, and while any object of this node is
invalid nothing is removed either; it is reported in its status and an Event. Secrets
(credentials in URLs) are masked in everything written to the API.

The modules, in the order of the flow:

- `operator`: kopf's settings, login and handlers, and its run;
- `store`: the objects as kopf last reported them, parsed;
- `desired`: which of them are this node's, and the desired state they make;
- `source`: `KubernetesSource`, the object the controller holds, wiring the rest;
- `api`: the HTTP client for camctl's own requests (the sink's too).
"""

from controller.sources.kubernetes.api import auth_headers, merge_patch, ssl_context
from controller.sources.kubernetes.source import KubernetesSource

__all__ = [
    "KubernetesSource",
    "auth_headers",
    "merge_patch",
    "ssl_context",
]
