"""The desired-state snapshot every source produces, and the checks across documents.

Files and Kubernetes both feed `assemble`; the planner only ever sees a `Desired`. A
resource that fails a cross-reference check is left out, and the snapshot is then not
`clean`: the planner deletes nothing and turns no recording off from a desired state that
did not load cleanly, so a bad edit never removes anything.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, NamedTuple

from controller.api.kinds import Camera, Recording, Ref, Stream, ref
from controller.api.ownership import Owner

AnyResource = Camera | Stream | Recording


class Problem(NamedTuple):
    """A rule broken across documents, pinned to one resource and field."""

    ref: Ref
    field: str
    message: str


class Rejection(NamedTuple):
    """Why a declared resource is not (or, when its last valid spec is in force, no longer)
    what its document says: the reason and message of its Ready condition."""

    reason: Literal["InvalidSpec", "InvalidReference"]
    message: str
    generation: int | None = None


@dataclass(frozen=True)
class Desired:
    cameras: Mapping[Ref, Camera] = field(default_factory=dict)
    streams: Mapping[Ref, Stream] = field(default_factory=dict)
    recordings: Mapping[Ref, Recording] = field(default_factory=dict)
    origins: Mapping[Ref, str] = field(default_factory=dict)
    # Loaded without any error. Only a clean desired state may remove what it no longer
    # declares: a half-read or broken source looks exactly like one that dropped resources.
    clean: bool = True
    # Declared resources whose documents are invalid or dangle: each still gets a status.
    rejected: Mapping[Ref, Rejection] = field(default_factory=dict)
    # Paths the source itself remembers this controller owns (Kubernetes: a Stream's status
    # names its path and node), beside the inventory: a lost state directory loses nothing.
    recorded: Mapping[str, Owner] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cameras) + len(self.streams) + len(self.recordings)

    def camera_of(self, stream: Stream) -> Camera | None:
        return self.cameras.get(Ref("Camera", stream.metadata.namespace, stream.spec.camera))

    def recording_of(self, stream: Stream) -> Recording | None:
        return self._recordings_by_stream.get(ref(stream))

    @cached_property
    def _recordings_by_stream(self) -> dict[Ref, Recording]:
        return {
            Ref("Stream", r.metadata.namespace, r.spec.stream): r for r in self.recordings.values()
        }


def check_references(
    resources: Iterable[AnyResource], invalid: Iterable[Ref] = ()
) -> list[Problem]:
    """Dangling references and two claims on one thing (a path, a stream's recording).

    `invalid` names documents that exist but failed validation: a reference to one of them
    is not dangling, and saying so would only bury the real error.
    """
    items = list(resources)
    names = {ref(r) for r in items} | set(invalid)
    problems: list[Problem] = []

    def missing(wanted: Ref) -> str:
        alike = [n.name for n in names if n.kind == wanted.kind and n.namespace == wanted.namespace]
        nearest = difflib.get_close_matches(wanted.name, alike, n=1)
        return f"{wanted} is not declared" + (f" (did you mean {nearest[0]}?)" if nearest else "")

    paths: dict[str, Ref] = {}
    recorded: dict[Ref, Ref] = {}
    for res in items:
        if isinstance(res, Stream):
            cam = Ref("Camera", res.metadata.namespace, res.spec.camera)
            if cam not in names:
                problems.append(Problem(ref(res), "spec.camera", missing(cam)))
            first = paths.setdefault(res.path, ref(res))
            if first != ref(res):
                problems.append(
                    Problem(ref(res), "spec.path", f"path {res.path!r} is already used by {first}")
                )
        elif isinstance(res, Recording):
            stream = Ref("Stream", res.metadata.namespace, res.spec.stream)
            if stream not in names:
                problems.append(Problem(ref(res), "spec.stream", missing(stream)))
            first = recorded.setdefault(stream, ref(res))
            if first != ref(res):
                problems.append(
                    Problem(ref(res), "spec.stream", f"{stream} is already recorded by {first}")
                )
    return problems


def assemble(
    resources: Iterable[tuple[AnyResource, str]],
    declared: Iterable[Ref] = (),
    rejected: Mapping[Ref, Rejection] | None = None,
    *,
    clean: bool = True,
) -> tuple[Desired, list[Problem]]:
    """Build the snapshot, leaving out the resources with problems.

    `declared` are identities claimed by documents that failed validation, and `rejected`
    says why where it is known: a reference to one is not dangling (saying so would bury
    the real error). `clean` is False when the source already had errors; any problem
    found here makes it False too.
    """
    pairs = list(resources)
    rejected = dict(rejected or {})
    problems = check_references((r for r, _ in pairs), {*declared, *rejected})
    broken = {p.ref for p in problems}
    good = [r for r, _ in pairs if ref(r) not in broken]
    for key, found in _by_ref(problems).items():
        text = "; ".join(f"{p.field}: {p.message}" for p in found)
        rejected.setdefault(key, Rejection("InvalidReference", text))
    desired = Desired(
        cameras={ref(r): r for r in good if isinstance(r, Camera)},
        streams={ref(r): r for r in good if isinstance(r, Stream)},
        recordings={ref(r): r for r in good if isinstance(r, Recording)},
        origins={ref(r): origin for r, origin in pairs},
        clean=clean and not problems,
        rejected=rejected,
    )
    return desired, problems


def _by_ref(problems: Iterable[Problem]) -> dict[Ref, list[Problem]]:
    found: dict[Ref, list[Problem]] = {}
    for problem in problems:
        found.setdefault(problem.ref, []).append(problem)
    return found
