"""`camctl demo --scenario NAME`, each played as a person runs it, and the page listing them.

Every scenario runs in its own process from the repository root, as `camctl demo
--scenario NAME` does, and must end with exit 0 after printing what camctl really did at
each step (read from its statuses, health, metrics and the emulator's paths).
docs/uat/demo-scenarios.md lists exactly the scenarios the command offers, with the command
that plays each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import SCENARIO_NAMES
from controller.testing.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "uat" / "demo-scenarios.md"

# What each scenario must have printed, in this order: camctl's own statuses and numbers.
EXPECTED = {
    "camera-unplugged": [
        r"-> Camera/front-door Ready=True DeviceFound: /dev/video0 ",
        r"-> Camera/front-door Ready=False DeviceAbsent: ",
        r"-> Stream/front-door Ready=False CameraNotReady: ",
        r"-> MediaMTX paths: cams/garage, cams/workshop \(the others untouched\)",
        r"-> Camera/front-door Ready=True DeviceFound: /dev/video6 ",
        r"-> Stream/front-door: ffmpeg opens /dev/v4l/by-id/\S+ \(the same name\)",
    ],
    "broken-edit": [
        r"log: ERROR \S+/streams\.yaml:\d+:\d+: Stream/front-door: spec\.video\.fps: ",
        r"-> MediaMTX paths: cams/front-door, cams/garage, cams/workshop \(cams/workshop kept\)",
        r"-> writes to MediaMTX since the save: 0$",
        r"log: INFO delete cams/workshop$",
        r"-> MediaMTX paths: cams/front-door, cams/garage$",
        r"-> controller errors: 0$",
    ],
    "mediamtx-restarted": [
        r"-> all 3 paths back in \d+\.\d+ s",
        r"-> camctl_drift_corrections_total 3$",
        r"-> Stream/front-door Ready=Unknown MediaMTXUnreachable: ",
        r"-> camctl_mediamtx_up 0$",
        r"-> the inventory still owns 3 paths",
        r"-> all 3 paths back \d+\.\d+ s after it answered",
        r"-> Stream/front-door Ready=True PathConfigured: ",
        r"-> camctl_mediamtx_up 1$",
    ],
    "stalled-stream": [
        r"-> Stream/front-door Healthy=True Publishing: ",
        r"-> camctl_stream_inbound_bitrate [1-9]\d* \(bits a second\)",
        r"log: INFO restart cams/front-door$",
        r"-> after \d+ s: Stream/front-door Healthy=False Stalled: ",
        r"-> camctl_stream_healthy 0$",
        r"-> Stream/front-door Healthy=True Publishing: ",
        r"-> status\.restarts 1, ",
        r"-> camctl_stream_restarts_total 1$",
        r'-> camctl_actions_total\{op="restart"\} 1$',
    ],
    "disk-filling": [
        r"DiskLow threshold \(--disk-low, 10% by default\) is \d+\.\d+% here",
        r"-> Recording/front-door: segments [1-9]\d*; ",
        r"-> Recording/front-door DiskLow=False DiskOk: ",
        r"-> Recording/front-door DiskLow=True DiskLow: ",
        r"-> MediaMTX: cams/front-door recordDeleteAfter 7d -> 1d$",
        r"-> the PATCH changed only: recordDeleteAfter$",
        r"-> Recording/front-door DiskLow=False DiskOk: ",
    ],
}


def play(name: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # simulated cameras
    return subprocess.run(
        [sys.executable, "-m", "controller", "demo", "--scenario", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def in_order(patterns: list[str], output: str) -> None:
    at = 0
    for pattern in patterns:
        found = re.compile(pattern, re.M).search(output, at)
        assert found, f"no {pattern!r} after:\n{output[at:][-3000:]}"
        at = found.end()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scenario_plays_and_narrates_what_camctl_did(name: str) -> None:
    played = play(name)
    assert played.returncode == 0, played.stdout[-3000:] + played.stderr[-3000:]
    assert "Traceback" not in played.stdout + played.stderr
    in_order([rf"^Scenario {name}: ", *EXPECTED[name], r"^Done\.$"], played.stdout)
    steps = re.findall(r"^(\d+)\. ", played.stdout, re.M)
    assert steps == [str(n) for n in range(1, len(steps) + 1)] and len(steps) >= 3
    assert played.stdout.count("   why: ") >= 2, "each scenario says why"


def test_every_scenario_is_offered_tested_and_listed() -> None:
    assert list(SCENARIOS) == SCENARIO_NAMES
    assert set(SCENARIOS) == set(EXPECTED)
    listed = re.findall(r"^## `camctl demo --scenario ([\w-]+)`", DOC.read_text(), re.M)
    assert listed == list(SCENARIOS)
