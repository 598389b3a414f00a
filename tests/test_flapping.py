"""Flap damping in the planner: a Camera's device coming and going, pass after pass.

Each pass's statuses are the next one's `previous`, as in the loop; MediaMTX is taken to do
what each pass asked. The umockdev test of the same (a real plug/unplug loop) is in
test_hotplug.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_plan import NOW, camera, desired, device, doc, mediamtx_after

from controller.api.conditions import find
from controller.api.kinds import CameraStatus, Ref, Status
from controller.api.ownership import Owner
from controller.api.settings import Settings
from controller.reconcile.plan import Plan, plan

SETTINGS = Settings(node_name="edge-01", flap_changes=4, flap_window=60.0, flap_hold_down=30.0)
WORLD = desired(camera("door", "S1"), doc("Stream", "door", camera="door", path="cams/door"))
DOOR = Ref("Camera", "default", "door")


class Passes:
    def __init__(self) -> None:
        self.paths: dict[str, Any] = {}
        self.owned: dict[str, Owner] = {}
        self.previous: dict[Ref, Status] = {}
        self.writes = 0
        self.last: Plan | None = None

    def at(self, seconds: float, present: bool) -> Plan:
        when = NOW + timedelta(seconds=seconds)
        devices = [device("S1")] if present else []
        result = plan(WORLD, devices, self.paths, self.owned, SETTINGS, when, self.previous, {})
        self.paths = mediamtx_after(self.paths, result.actions)
        self.owned = result.inventory_after()
        self.previous, self.last = result.statuses, result
        self.writes += len(result.actions)
        return result

    def ready(self) -> tuple[str, str]:
        assert self.last is not None
        cond = find(self.last.statuses[DOOR].conditions, "Ready")
        assert cond is not None
        return cond.status, cond.reason

    def camera(self) -> CameraStatus:
        assert self.last is not None
        status = self.last.statuses[DOOR]
        assert isinstance(status, CameraStatus)
        return status


def test_a_few_replugs_are_followed() -> None:
    p = Passes()
    p.at(0, True)
    for t, present in ((1, False), (2, True), (3, False), (4, True)):  # four changes: N
        p.at(t, present)
        assert p.ready()[1] != "Flapping"
        assert ("cams/door" in p.paths) == present
    assert p.camera().flaps is not None and len(p.camera().flaps.changes) == 4  # type: ignore[union-attr]
    p.at(70, True)  # the window passed: the history is gone
    assert p.camera().flaps is None


def test_more_changes_than_allowed_damp_the_camera_until_it_stays_put() -> None:
    p = Passes()
    p.at(0, True)
    present = True
    for t in range(1, 6):  # the fifth change is one too many
        present = not present
        p.at(t, present)
    assert p.ready() == ("False", "Flapping")
    assert p.camera().device is None and p.camera().flaps.damped_since == NOW + timedelta(seconds=5)  # type: ignore[union-attr]
    writes, hold = p.writes, NOW + timedelta(seconds=35)
    assert p.last is not None and p.last.recheck == hold
    for t in range(6, 21):  # still flapping: nothing is written
        present = not present
        result = p.at(t, present)
        assert result.actions == [] and p.ready() == ("False", "Flapping")
    assert p.writes == writes
    assert p.last.recheck == NOW + timedelta(seconds=20 + 30), "each change starts it again"
    p.at(49, present)
    assert p.ready() == ("False", "Flapping"), "29 s quiet: not yet"
    result = p.at(50, present)
    assert p.ready() == ("True", "DeviceFound") and present
    assert [a.op for a in result.actions] == ["add"], "converges once the hold-down is over"
    assert p.camera().flaps is None


def test_a_camera_damped_while_present_loses_its_path_once() -> None:
    p = Passes()
    p.at(0, True)
    for t in range(1, 5):
        p.at(t, t % 2 == 0)
    assert "cams/door" in p.paths
    result = p.at(5, False)
    assert p.ready() == ("False", "Flapping")
    assert [a.op for a in result.actions] == ["delete"], "the camera went: its path too"
    p.at(6, True)  # back, but damped: no add
    assert "cams/door" not in p.paths and p.camera().device is not None


def test_damped_while_absent_converges_to_absent() -> None:
    p = Passes()
    p.at(0, False)
    for t in range(1, 6):
        p.at(t, t % 2 == 1)
    p.at(6, False)
    assert p.ready() == ("False", "Flapping")
    p.at(36, False)
    assert p.ready() == ("False", "DeviceAbsent") and "cams/door" not in p.paths
