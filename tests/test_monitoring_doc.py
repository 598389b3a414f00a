"""docs/operations/monitoring.md against what camctl really exports and alerts on.

A controller runs on the MediaMTX emulator with the examples and its view; /metrics is read
over HTTP and parsed as Prometheus would. The page must name every metric family exported,
with the labels its series carry, name no metric that is not exported, and describe every
alert of manifests/prometheus/prometheusrule.yaml with a link to its runbook.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from controller.testing.harness import running

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations" / "monitoring.md"
RULES = ROOT / "manifests" / "prometheus" / "prometheusrule.yaml"
KSM = ROOT / "manifests" / "prometheus" / "kube-state-metrics-camctl.yaml"
ROW = re.compile(r"^\| `(camctl_\w+|Camctl\w+)` \|(.*)$", re.M)


@dataclass
class Family:
    kind: str
    labels: set[str] | None  # None: no series yet to read them from
    samples: set[str]


async def scrape() -> str:
    """/metrics of a controller that converged the examples and answered one JSON-RPC call."""
    with tempfile.TemporaryDirectory(prefix="camctl-metrics-") as state:
        docs, devices = ROOT / "examples" / "gitops", ROOT / "examples" / "devices.yaml"
        async with running(docs, devices, Path(state)) as run:
            await run.settle()
            async with httpx.AsyncClient() as http:
                call = {"jsonrpc": "2.0", "id": 1, "method": "controller.status"}
                (await http.post(f"{run.url}/rpc", json=call)).raise_for_status()
                answer = await http.get(f"{run.url}/metrics")
                answer.raise_for_status()
                return answer.text


def families(exposition: str) -> dict[str, Family]:
    """The exported families by the name people query them with (`_total` for counters),
    without prometheus-client's `_created` companions."""
    found: dict[str, Family] = {}
    parsed = list(text_string_to_metric_families(exposition))
    companions = {f.name + "_created" for f in parsed if f.type in ("counter", "histogram")}
    for family in parsed:
        if family.name in companions:
            continue
        name = family.name + "_total" if family.type == "counter" else family.name
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        samples = {s.name for s in family.samples} | {name}
        found[name] = Family(family.type, labels if family.samples else None, samples)
    return found


def documented() -> dict[str, list[str]]:
    """Each table row of the page that starts with a metric or an alert: its cells."""
    rows = ROW.findall(DOC.read_text())
    return {name: [c.strip() for c in rest.split("|")] for name, rest in rows}


def kube_state_metrics() -> dict[str, set[str]]:
    """The series camctl's kube-state-metrics configuration defines, with their labels."""
    config = YAML(typ="safe").load(KSM.read_text())
    found: dict[str, set[str]] = {}
    for resource in config["spec"]["resources"]:
        for metric in resource["metrics"]:
            name = f"{resource['metricNamePrefix']}_{metric['name']}"
            found.setdefault(name, {"customresource_kind"}).update(resource["labelsFromPath"])
    return found


def alerts() -> dict[str, dict[str, Any]]:
    rule = next(d for d in YAML(typ="safe").load_all(RULES.read_text()) if d)
    return {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}


def labels_in(cell: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", cell))


@pytest.fixture(scope="module")
def exported() -> dict[str, Family]:
    return families(asyncio.run(scrape()))


def test_every_exported_metric_is_described_with_its_labels(exported: dict[str, Family]) -> None:
    rows = documented()
    assert len(exported) >= 20, sorted(exported)
    missing = sorted(set(exported) - set(rows))
    assert not missing, f"exported but not in {DOC.name}: {missing}"
    for name, family in exported.items():
        kind, labels, meaning = rows[name][0], labels_in(rows[name][1]), rows[name][2]
        assert kind == ("gauge" if family.kind == "unknown" else family.kind), name
        if family.labels is not None:
            assert labels == family.labels, f"{name}: documented {labels}, exported {family.labels}"
        assert len(meaning) > 20, f"{name}: say what it means"


def test_every_metric_the_page_names_is_exported(exported: dict[str, Family]) -> None:
    ksm = kube_state_metrics()
    known = set().union(*(f.samples for f in exported.values())) | set(ksm)
    named = set(re.findall(r"\bcamctl_\w+", DOC.read_text()))
    assert not named - known, f"not exported: {sorted(named - known)}"
    rows = documented()
    for name, labels in ksm.items():
        assert labels <= labels_in(rows[name][1]), name


def test_every_alert_is_described_and_links_its_runbook() -> None:
    rules, rows = alerts(), documented()
    described = {name for name in rows if name.startswith("Camctl")}
    assert described == set(rules), f"rule file {sorted(rules)}, page {sorted(described)}"
    for name, rule in rules.items():
        severity, link = rows[name][0], rows[name][3]
        assert severity == rule["labels"]["severity"], name
        target = re.search(rf"\[{name}\]\((runbooks/{name}\.md)\)", link)
        assert target, f"{name}: link its runbook"
        assert (DOC.parent / target[1]).is_file(), target[1]
