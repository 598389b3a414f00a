"""The person who watches: camctl status, the dashboard, /metrics and the alerts.

They do not change the cameras; they are told when something is wrong, what it is, and
what to do. Each story runs a controller with its view on the MediaMTX emulator and the
simulated cameras of a copy of examples/devices.yaml. The alert stories read the view's
real /metrics and evaluate manifests/prometheus/prometheusrule.yaml on those numbers with
Prometheus' own `promtool test rules`, as Prometheus would after scraping them for minutes.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from controller.testing.harness import SETTINGS, Running, eventually, running
from controller.testing.mediamtx import MediaMTXEmulator
from controller.view.client import AsyncViewClient

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RULES = ROOT / "manifests" / "prometheus" / "prometheusrule.yaml"
SCRAPED = {"job": "camctl", "endpoint": "view", "pod": "camctl-x7k2p"}  # what Prometheus adds


@asynccontextmanager
async def watched(
    tmp_path: Path, emulator: MediaMTXEmulator | None = None
) -> AsyncIterator[Running]:
    devices = tmp_path / "devices.yaml"
    shutil.copy(EXAMPLES / "devices.yaml", devices)
    settings = replace(SETTINGS, recordings_roots=(str(tmp_path / "recordings"),))
    docs, state = EXAMPLES / "gitops", tmp_path / "state"
    async with running(docs, devices, state, settings=settings, emulator=emulator) as run:
        await run.settle()
        yield run


def unplug(tmp_path: Path, node: str) -> str:
    """The camera at `node` taken out of the simulated devices; the file as it was."""
    devices = tmp_path / "devices.yaml"
    text = devices.read_text()
    entry = re.search(rf"  - node: {re.escape(node)}\n.*?(?=\n\n|\Z)", text, re.S)
    assert entry, node
    devices.write_text(text.replace(entry[0], ""))
    return text


async def camctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "controller", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def scrape(run: Running) -> list[tuple[str, dict[str, str], float]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{run.url}/metrics")
    answer.raise_for_status()
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    ]


def series(samples: list[tuple[str, dict[str, str], float]], minutes: int) -> list[dict[str, str]]:
    """The scraped samples as promtool input: each value held for `minutes`."""
    found = []
    for name, labels, value in samples:
        if name.startswith("camctl_") and not name.endswith(("_created", "_bucket")):
            tags = ", ".join(f'{k}="{v}"' for k, v in sorted((labels | SCRAPED).items()))
            found.append({"series": f"{name}{{{tags}}}", "values": f"{value:g}x{minutes}"})
    return found


def rendered(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """The rule's annotations with its {{ $labels.X }} filled in, as Prometheus does."""
    return {
        key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], ""), text)
        for key, text in rule["annotations"].items()
    }


def promtool(tmp_path: Path, inputs: list[dict[str, str]], checks: list[dict[str, Any]]) -> str:
    """`promtool test rules` of the PrometheusRule's groups on these series."""
    rule = next(d for d in YAML(typ="safe").load_all(RULES.read_text()) if d)
    with (tmp_path / "rules.yaml").open("w") as out:
        YAML(typ="safe").dump({"groups": rule["spec"]["groups"]}, out)
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "alert_rule_test": checks}],
    }
    with (tmp_path / "test.yaml").open("w") as out:
        YAML(typ="safe").dump(test, out)
    found = shutil.which("promtool")
    assert found, "promtool is needed: Debian's `prometheus` package (.ci/system-deps)"
    done = subprocess.run(
        [found, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alert(name: str) -> dict[str, Any]:
    rule = next(d for d in YAML(typ="safe").load_all(RULES.read_text()) if d)
    return next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == name)


async def test_camctl_status_says_which_camera_is_missing_and_what_to_do(tmp_path: Path) -> None:
    """When a camera goes missing, `camctl status` tells me which one, since when and why,
    and `camctl plan` tells me what to do about it.

    Given camctl runs the examples, every resource Ready,
    when the garage camera is unplugged,
    then `camctl status` shows Camera/garage False DeviceAbsent and Stream/garage False
          CameraNotReady, the others still True;
    and `camctl plan` exits 3 (nothing to write, something cannot be served) and says to
          plug the camera in or correct spec.match.
    """
    async with watched(tmp_path) as run:
        unplug(tmp_path, "/dev/video2")
        await eventually(lambda: "cams/garage" not in run.emulator.path_names(), 10)
        await run.settle()
        state = ["--state-dir", str(tmp_path / "state")]
        status = await camctl("status", *state)
        assert status.returncode == 0, status.stderr
        rows = {line.split()[0]: line.split()[1:3] for line in status.stdout.splitlines()[3:]}
        assert rows["Camera/garage"] == ["False", "DeviceAbsent"]
        assert rows["Stream/garage"] == ["False", "CameraNotReady"]
        assert rows["Camera/front-door"] == ["True", "DeviceFound"]
        box = [*state, "--mediamtx", run.emulator.url or "", "--simulate-devices"]
        box += [str(tmp_path / "devices.yaml"), "--recordings-root", str(tmp_path / "recordings")]
        plan = await camctl("plan", str(EXAMPLES / "gitops"), *box)
        assert plan.returncode == 3, plan.stdout + plan.stderr
        assert "Camera/garage: DeviceAbsent" in plan.stdout
        assert "plug the camera in, or correct spec.match" in plan.stdout


async def test_the_dashboard_is_told_when_a_camera_goes_and_comes_back(tmp_path: Path) -> None:
    """My dashboard updates by itself: when a camera is unplugged and plugged back in, it
    is told at once, without reloading.

    Given the dashboard subscribed to the view's events (as its page does, over the WebSocket),
    when the garage camera is unplugged,
    then an event for Camera garage arrives with Ready False, DeviceAbsent;
    when it is plugged back in,
    then an event arrives with Ready True.
    """
    async with watched(tmp_path) as run, AsyncViewClient(run.url) as view:
        seen: list[tuple[str, str]] = []

        async def listen() -> None:
            async for event in view.subscribe(kinds=["Camera"]):
                ready = next(
                    (c for c in (event.object or {}).get("status", {}).get("conditions", [])
                     if c["type"] == "Ready"),
                    {},
                )  # fmt: skip
                if event.name == "garage":
                    seen.append((ready.get("status", ""), ready.get("reason", "")))

        listening = asyncio.create_task(listen())
        try:
            await asyncio.sleep(0.2)  # subscribed
            plugged = unplug(tmp_path, "/dev/video2")
            await eventually(lambda: ("False", "DeviceAbsent") in seen, 10)
            (tmp_path / "devices.yaml").write_text(plugged)
            await eventually(lambda: seen[-1] == ("True", "DeviceFound"), 10)
        finally:
            listening.cancel()
        async with httpx.AsyncClient() as http:
            page = await http.get(f"{run.url}/")
        assert page.status_code == 200 and "<html" in page.text.lower()


async def test_the_alert_for_mediamtx_down_fires_from_the_metrics(tmp_path: Path) -> None:
    """When MediaMTX goes down, the alert I get says so, on which pod, and links its
    runbook; it does not fire for a blip shorter than 2 minutes.

    Given Prometheus scrapes camctl's /metrics,
    when MediaMTX stops answering,
    then /metrics says camctl_mediamtx_up 0, and on those numbers the rule
          CamctlMediaMTXUnreachable is not firing after 1 minute but is after 3, with its
          summary naming the pod and its runbook_url;
    when MediaMTX is back, camctl_mediamtx_up is 1 again.
    """
    emulator = MediaMTXEmulator()
    async with watched(tmp_path, emulator) as run:
        url = emulator.url or ""
        await emulator.stop()
        await eventually(lambda: run.controller.health.mediamtx_reachable is False, 10)
        down = await scrape(run)
        assert ("camctl_mediamtx_up", {}, 0.0) in down
        rule = alert("CamctlMediaMTXUnreachable")
        labels = {"alertname": "CamctlMediaMTXUnreachable", **SCRAPED, **rule["labels"]}
        fired = {"exp_labels": labels, "exp_annotations": rendered(rule, labels)}
        checks = [
            {"eval_time": "1m", "alertname": "CamctlMediaMTXUnreachable", "exp_alerts": []},
            {"eval_time": "3m", "alertname": "CamctlMediaMTXUnreachable", "exp_alerts": [fired]},
        ]
        promtool(tmp_path, series(down, 5), checks)
        assert (
            "docs/operations/runbooks/CamctlMediaMTXUnreachable.md"
            in rule["annotations"]["runbook_url"]
        )
        await emulator.start("127.0.0.1", int(url.rsplit(":", 1)[1]))
        await eventually(lambda: run.controller.health.mediamtx_reachable, 10)
        await run.settle()
        assert ("camctl_mediamtx_up", {}, 1.0) in await scrape(run)


async def test_a_recording_that_writes_nothing_is_flagged_and_one_that_writes_is_not(
    tmp_path: Path,
) -> None:
    """I am warned about a Recording that should be writing but is not, and only about it.

    Given camctl runs the examples, MediaMTX writing front-door's segments, and garage's
          Stream onDemand with nobody watching (so it records nothing),
    when Prometheus has scraped those numbers for 11 minutes,
    then the alert CamctlRecordingNotWriting fires for garage, and not for front-door.
    """
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed: the emulator makes real segments with it")
    async with watched(tmp_path) as run:
        # MediaMTX writes front-door's segments; garage's onDemand path, unread, writes none.
        writing = ("camctl_recording_writing", {"name": "front-door", "namespace": "default"}, 1.0)
        deadline = asyncio.get_running_loop().time() + 20
        while writing not in await scrape(run):
            assert asyncio.get_running_loop().time() < deadline, "front-door never wrote"
            run.emulator.record("cams/front-door", datetime.now(UTC))  # on its own loop
            await run.settle()
        numbers = await scrape(run)
        rule = alert("CamctlRecordingNotWriting")
        labels = {"alertname": rule["alert"], "name": "garage", "namespace": "default"}
        labels |= SCRAPED | rule["labels"]
        fired = {"exp_labels": labels, "exp_annotations": rendered(rule, labels)}
        check = {"eval_time": "11m", "alertname": rule["alert"], "exp_alerts": [fired]}
        promtool(tmp_path, series(numbers, 12), [check])
