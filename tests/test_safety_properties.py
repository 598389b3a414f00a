"""Properties of safety (hypothesis): no mutation of the documents, however odd, and no
spelling of their folder, makes camctl remove what it should keep.

A converged world (the examples, their MediaMTX paths, camctl's inventory) meets a random
mutation of one file: bytes flipped, cut short, emptied, replaced by a FIFO, a folder, a
dangling link or a device, a value swapped for one of another type, a huge value. Then:

- the pass right after the change (not yet settled) removes nothing at all;
- once settled, a removal (a delete, recording turned off, a shorter retention) happens only
  from a desired state that loaded cleanly, and only for a Stream that the mutation really
  changed or removed (itself, its Camera or its Recording);
- loading and planning never raise, whatever the bytes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.api.desired import Desired
from controller.api.kinds import Ref
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.observe.v4l2 import load_simulated
from controller.reconcile.plan import Plan, plan
from controller.reconcile.render import destructive
from controller.sources.files import FileSource

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = load_simulated(ROOT / "examples" / "devices.yaml")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SETTINGS = Settings()
FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))

ODD_TYPES = ["fifo", "folder", "dangling link", "device", "gone"]
ODD_VALUES = ["[x]", "{a: 1}", "123", "~", "true", "9" * 5000, "x" * 20000, "[" * 300 + "]" * 300]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str, Any]:
    file = draw(st.sampled_from(FILES))
    size = (EXAMPLES / file).stat().st_size
    kind = draw(st.sampled_from(["flip", "cut", "empty", "odd type", "swap value"]))
    if kind == "flip":
        spots = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=4))
        return file, kind, [(spot, draw(st.integers(1, 255))) for spot in spots]
    if kind == "cut":
        return file, kind, draw(st.integers(0, size - 1))
    if kind == "odd type":
        return file, kind, draw(st.sampled_from(ODD_TYPES))
    if kind == "swap value":
        return file, kind, (draw(st.integers(0, 200)), draw(st.sampled_from(ODD_VALUES)))
    return file, kind, None


def mutate(path: Path, kind: str, how: Any) -> None:
    data = path.read_bytes()
    if kind == "flip":
        flipped = bytearray(data)
        for spot, bits in how:
            flipped[spot] ^= bits
        path.write_bytes(bytes(flipped))
    elif kind == "cut":
        path.write_bytes(data[:how])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "swap value":
        index, value = how
        lines = data.decode().splitlines(keepends=True)
        valued = [i for i, line in enumerate(lines) if ": " in line and not line.startswith("#")]
        i = valued[index % len(valued)]
        key = lines[i].split(": ", 1)[0]
        lines[i] = f"{key}: {value}\n"
        path.write_text("".join(lines))
    else:
        path.unlink()
        if how == "fifo":
            os.mkfifo(path)
        elif how == "folder":
            path.mkdir()
        elif how == "dangling link":
            path.symlink_to(path.parent / "nowhere.yaml")
        elif how == "device":
            path.symlink_to("/dev/zero")


def spell(docs: Path, how: str) -> Path:
    if how == "trailing slash":
        return Path(f"{docs}/")
    if how == "dot-dot":
        return docs / ".." / docs.name
    if how == "symlinked folder":
        link = docs.parent / "linked"
        link.symlink_to(docs)
        return link
    return docs


@contextmanager
def world() -> Iterator[tuple[Path, Desired, dict[str, Any], dict[str, Owner], Any]]:
    """A private copy of the examples, with MediaMTX, the inventory and the statuses of a
    running controller that converged them."""
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(shutil.copytree(EXAMPLES, Path(tmp) / "docs"))
        loaded = FileSource([docs]).load()
        assert loaded.errors == []
        first = plan(loaded.desired, DEVICES, {}, {}, SETTINGS, NOW)
        paths = {a.path: {"name": a.path, **a.config} for a in first.actions}
        again = plan(loaded.desired, DEVICES, paths, first.inventory, SETTINGS, NOW, first.statuses)
        assert again.actions == []
        yield docs, loaded.desired, paths, first.inventory, again.statuses


def removals(result: Plan, paths: dict[str, Any]) -> list[tuple[str, str]]:
    """The actions that remove something: deletes, recording off, shorter retention."""
    return [
        (a.op, a.path)
        for a in result.actions
        if a.op == "delete" or (a.op == "patch" and destructive(a.config, paths[a.path]))
    ]


def affected(before: Desired, after: Desired) -> set[str]:
    """Paths whose Stream, Camera or Recording the mutation changed or removed."""
    out = set()
    for key, stream in before.streams.items():
        camera = before.camera_of(stream)
        recording = before.recording_of(stream)
        now = after.streams.get(key)
        if (
            now != stream
            or (camera is not None and after.cameras.get(_key(camera)) != camera)
            or (recording is not None and after.recordings.get(_key(recording)) != recording)
            or (recording is None and after.recording_of(stream) is not None)
        ):
            out.add(stream.path)
    return out


def _key(resource: Any) -> Ref:
    return Ref(resource.kind, resource.metadata.namespace, resource.metadata.name)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    mutations(),
    st.sampled_from(["plain", "trailing slash", "dot-dot", "symlinked folder"]),
)
def test_no_mutation_of_the_documents_removes_what_it_should_keep(
    mutation: tuple[str, str, Any], spelling: str
) -> None:
    file, kind, how = mutation
    with world() as (docs, before, paths, owned, statuses):
        mutate(docs / file, kind, how)
        loaded = FileSource([spell(docs, spelling)]).load()
        args = (loaded.desired, DEVICES, paths, owned, SETTINGS, NOW, statuses)
        unsettled = plan(*args, settled=False)
        assert removals(unsettled, paths) == []
        settled = plan(*args, settled=True)
        removed = removals(settled, paths)
        if loaded.errors:
            assert removed == [], (loaded.errors, removed)
        else:
            assert {path for _, path in removed} <= affected(before, loaded.desired)
        # What the unsettled pass held back is what the settled one takes.
        assert {w.action.path for w in unsettled.withheld} >= {path for _, path in removed}


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["plain", "trailing slash", "dot-dot", "symlinked folder"]))
def test_every_spelling_of_a_converged_folder_plans_nothing(spelling: str) -> None:
    with world() as (docs, _, paths, owned, _statuses):
        loaded = FileSource([spell(docs, spelling)]).load()
        result = plan(loaded.desired, DEVICES, paths, owned, SETTINGS, NOW, settled=True)
        assert loaded.errors == [] and result.actions == [] and result.withheld == []
