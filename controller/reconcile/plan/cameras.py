"""Cameras: each declared Camera's one device, matched by its most selective facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.api.device import Device
from controller.api.kinds import Camera, CameraMatch, CameraStatus, Ref, Status, generation, ref
from controller.api.settings import Settings
from controller.reconcile.plan.flapping import damp
from controller.reconcile.plan.flapping import message as flapping_message
from controller.reconcile.plan.state import Pass


def match_cameras(
    state: Pass, cameras: Mapping[Ref, Camera], devices: Sequence[Device]
) -> dict[Ref, Device]:
    """Each Camera's one device; ambiguity and two claims on a device match nothing."""
    devices = tuple(devices)
    if _last and _last[0].answers(cameras, devices, state.settings, state.previous):
        state.statuses.update(_last[0].statuses)
        return dict(_last[0].matched)
    matched = _match(state, cameras, devices)
    statuses = {key: state.statuses[key] for key in cameras}
    _last.clear()
    if all(isinstance(s, CameraStatus) and not s.flaps for s in statuses.values()):
        # (flap damping depends on the time as well: a flapping camera's match is not kept)
        _last.append(_Matching(cameras, devices, state.settings, matched, statuses))
    return matched


@dataclass(frozen=True)
class _Matching:
    """The cameras' last match. Matching depends on nothing but the cameras, the devices, the
    settings and the statuses before (flap damping aside, and then nothing is kept): a pass
    that has all four the same as the pass that made it, its statuses included, gets the
    same answer, and a converged controller does not match 1,000 cameras again on every
    resync."""

    cameras: Mapping[Ref, Camera]
    devices: tuple[Device, ...]
    settings: Settings
    matched: Mapping[Ref, Device]
    statuses: Mapping[Ref, Status]

    def answers(
        self,
        cameras: Mapping[Ref, Camera],
        devices: tuple[Device, ...],
        settings: Settings,
        previous: Mapping[Ref, Status],
    ) -> bool:
        return (
            settings is self.settings
            and len(cameras) == len(self.cameras)
            and all(self.cameras.get(key) is cam for key, cam in cameras.items())
            and all(previous.get(key) is status for key, status in self.statuses.items())
            and devices == self.devices  # the same objects, on most passes: no field compared
        )


_last: list[_Matching] = []  # at most one


def _match(
    state: Pass, cameras: Mapping[Ref, Camera], devices: Sequence[Device]
) -> dict[Ref, Device]:
    index = DeviceIndex(devices)
    candidates = {key: index.candidates(cam.spec.match) for key, cam in cameras.items()}
    claims: dict[str, list[Ref]] = {}
    for key, found in candidates.items():
        if len(found) == 1:
            claims.setdefault(found[0].node, []).append(key)
    matched: dict[Ref, Device] = {}
    for key, cam in cameras.items():
        found = candidates[key]
        if not found:
            ready = state.ready(key, False, "DeviceAbsent", "no device matches spec.match")
        elif len(found) > 1:
            nodes = ", ".join(d.node for d in found)
            ready = state.ready(
                key, False, "AmbiguousMatch", f"spec.match fits {len(found)} devices: {nodes}"
            )
        elif len(rivals := claims[found[0].node]) > 1:
            others = ", ".join(str(r) for r in rivals if r != key)
            ready = state.ready(
                key, False, "DeviceConflict", f"{found[0].node} is also matched by {others}"
            )
        else:
            matched[key] = found[0]
            name = found[0].product or found[0].node
            ready = state.ready(key, True, "DeviceFound", f"{found[0].node} ({name})")
        present = matched.get(key)
        damping = damp(state, key, present is not None)
        state.look_again(damping.recheck)
        if damping.damped:  # its Streams are served as if it were absent
            matched.pop(key, None)
            ready = state.ready(key, False, "Flapping", flapping_message(state))
        stalled = ready.reason in ("AmbiguousMatch", "DeviceConflict")
        state.settle_as(
            key,
            CameraStatus,
            observed_generation=generation(cam),
            conditions=state.conditions(key, ready, stalled=stalled),
            device=present,
            last_device=None if present else last_device(state, cam),
            flaps=damping.flaps,
        )
    return matched


def last_device(state: Pass, camera: Camera) -> Device | None:
    """The device the Camera had when last matched under this very document."""
    before = state.previous.get(ref(camera))
    if not isinstance(before, CameraStatus) or before.observed_generation != generation(camera):
        return None
    return before.device or before.last_device


class DeviceIndex:
    """Devices looked up by their most selective fact, so matching stays linear in N."""

    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = sorted(devices, key=lambda d: d.node)
        self.by: dict[str, dict[str, list[Device]]] = {"serial": {}, "usb_path": {}, "name": {}}
        for d in self.devices:
            if d.serial:
                self.by["serial"].setdefault(d.serial.lower(), []).append(d)
            if d.usb_path:
                self.by["usb_path"].setdefault(d.usb_path.lower(), []).append(d)
            for name in {d.node, d.by_id, d.by_path} - {None}:
                self.by["name"].setdefault(str(name).lower(), []).append(d)

    def candidates(self, match: CameraMatch | None) -> list[Device]:
        if match is None:  # a network camera
            return []
        keys = (("serial", match.serial), ("usb_path", match.usb_path), ("name", match.device))
        pool = next(
            (self.by[index].get(value.lower(), []) for index, value in keys if value),
            self.devices,
        )
        return [d for d in pool if match.matches(d)]
