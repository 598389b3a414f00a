"""What the planner remembers from one pass to the next never changes an answer.

The planner keeps its last answers where recomputing them each pass would cost the most and
change nothing (the cameras' match, rendered path configs, diffs, chosen modes), each
checked by the identity of its inputs. The property: over any sequence of passes (devices
plugged and unplugged, documents swapped, MediaMTX's paths changing, time moving by any
step, statuses carried over or lost), a pass planned with that memory is equal to the same
pass planned by a planner that remembers nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_plan import NOW, SOURCES, camera, device, doc, mediamtx_after

from controller.api.desired import Desired, assemble
from controller.api.device import Device
from controller.api.kinds import Ref, Status
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.reconcile import render
from controller.reconcile.plan import cameras as plan_cameras
from controller.reconcile.plan import plan, video

# Flap damping in a few changes, so that sequences reach it (and leave it).
SETTINGS = Settings(node_name="edge-01", flap_changes=2, flap_window=60.0, flap_hold_down=20.0)
SERIALS = ["S0", "S1", "S2"]


def _world(serials: list[str], recorded: bool) -> Desired:
    resources: list[tuple[Any, str]] = []
    for i, serial in enumerate(serials):
        name = f"c{i}"
        resources.append((camera(name, serial), SOURCES[i % 2]))
        resources.append((doc("Stream", name, camera=name, path=f"cams/{name}"), SOURCES[0]))
        if recorded:
            resources.append((doc("Recording", name, stream=name, retention="1d"), SOURCES[1]))
    return assemble(resources)[0]


# A few worlds, each built once: passes that keep their documents keep the very same objects.
WORLDS = [_world(SERIALS, True), _world(SERIALS, False), _world(["S0", "S0", "S2"], True)]


def _forget() -> None:
    """A planner that remembers nothing from the passes before."""
    plan_cameras._last.clear()
    render._configs.clear()
    render._diffs.clear()
    video._answers.clear()


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    plugged = draw(st.lists(st.sampled_from(SERIALS), unique=True))
    return {
        "world": draw(st.integers(0, len(WORLDS) - 1)),
        "devices": [device(s) for s in sorted(plugged)],
        "same_devices": draw(st.booleans()),  # the device list object of the pass before
        "seconds": draw(st.sampled_from([0, 1, 5, 15, 21, 61, 3600])),
        "apply": draw(st.booleans()),  # MediaMTX took the actions of the pass before
        "keep_statuses": draw(st.integers(0, 9)) > 0,  # else the statuses before are lost
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(steps(), min_size=1, max_size=12))
def test_a_pass_planned_with_memory_equals_one_planned_without(passes: list[Any]) -> None:
    _forget()
    when = NOW
    paths: dict[str, Any] = {}
    owned: dict[str, Owner] = {}
    previous: dict[Ref, Status] = {}
    devices: list[Device] = []
    for step in passes:
        when += timedelta(seconds=step["seconds"])
        if not step["same_devices"]:
            devices = step["devices"]
        inputs = (WORLDS[step["world"]], devices, paths, owned, SETTINGS, when)
        before = previous if step["keep_statuses"] else {}
        remembered = plan(*inputs, before, {})
        _forget()
        fresh = plan(*inputs, before, {})
        assert remembered.actions == fresh.actions
        assert remembered.statuses == fresh.statuses
        assert remembered.inventory == fresh.inventory
        assert remembered.withheld == fresh.withheld
        assert remembered.recheck == fresh.recheck
        assert remembered.notes == fresh.notes
        again = plan(*inputs, before, {})  # the memory holds what `fresh` made: the same
        assert again.statuses == fresh.statuses and again.actions == fresh.actions
        if step["apply"]:
            paths = mediamtx_after(paths, fresh.actions)
            owned = dict(fresh.inventory_after())
        previous = dict(again.statuses)
