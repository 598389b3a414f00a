"""Status out to Kubernetes: after each pass, the writes this node makes to the API.

The objects come from the source (controller.sources.kubernetes), whose store and client the
sink shares: statuses of the objects this node owns (only when they changed), Events for
MediaMTX writes and condition changes, and a per-node finalizer on Streams until their path
is gone.

- `sink`: `KubernetesSink`, the writes in order, with their retries;
- `status`, `events`, `finalizer`: what those writes say.
"""

from controller.sinks.kubernetes.finalizer import finalizer_for
from controller.sinks.kubernetes.sink import KubernetesSink

__all__ = ["KubernetesSink", "finalizer_for"]
