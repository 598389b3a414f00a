"""The per-node finalizer: a Stream stays in the API while a node's MediaMTX holds its path.

Each live Stream a node owns carries `paths.camctl.dev/NODE`; the node drops it once the
path is gone (the Stream is being deleted, or has passed to another node). Which Streams
to change is decided here; the sink writes the changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

from controller.api.kinds import Ref
from controller.sources.kubernetes.store import Entry, Store, origin_of

FINALIZER_DOMAIN = "paths.camctl.dev"

Change = tuple[Entry, list[str]]  # an object, and the finalizers it should have


def finalizer_for(node: str) -> str:
    """`paths.camctl.dev/NODE`: says which node's MediaMTX still holds the path."""
    if len(node) > 63:  # a finalizer's name part is at most 63 characters
        node = f"{node[:54]}-{hashlib.sha256(node.encode()).hexdigest()[:8]}"
    return f"{FINALIZER_DOMAIN}/{node}"


def to_add(store: Store, mine: Mapping[Ref, Entry], finalizer: str) -> Iterator[Change]:
    """Each live Stream this node owns carries its finalizer while the path may exist."""
    for key in mine:
        entry = store.entries.get(key)
        if key.kind != "Stream" or entry is None or entry.deleting:
            continue
        if finalizer not in entry.finalizers:
            yield entry, [*entry.finalizers, finalizer]


def to_release(
    store: Store, mine: Mapping[Ref, Entry], held: set[str], finalizer: str
) -> Iterator[Change]:
    """Drop this node's finalizer from Streams it no longer holds a MediaMTX path for;
    `held` are the origins of the paths it holds."""
    for entry in store.of_kind("Stream"):
        if finalizer not in entry.finalizers or origin_of(entry.key) in held:
            continue
        if entry.deleting or entry.key not in mine:
            yield entry, [f for f in entry.finalizers if f != finalizer]
