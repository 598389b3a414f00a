"""manifests/prometheus: the alert rules pass `promtool test rules` (each fires on a series
that should fire it and stays quiet otherwise), link their runbooks, and every expression
there and in the Grafana dashboard reads only series camctl and kube-state-metrics export.

promtool comes with Debian's `prometheus` package (.ci/system-deps installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from test_manifests import PROMETHEUS, load_all, metric_names, one

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "prometheus" / "alerts.test.yaml"
RUNBOOKS = ROOT / "docs" / "operations" / "runbooks"
DASHBOARD = PROMETHEUS / "grafana-dashboard.json"
# Prometheus' own series about a scrape, which a rule may use for its targets.
SCRAPE_SERIES = {"up"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset", "le", "inf", "nan"}


def rule_groups() -> list[dict[str, Any]]:
    rule = one(load_all((PROMETHEUS / "prometheusrule.yaml").read_text()), "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_groups() for r in g["rules"] if "alert" in r}


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is needed: Debian's `prometheus` package (.ci/system-deps)"
    return found


def test_the_alert_rules_pass_their_unit_tests(tmp_path: Path) -> None:
    """The PrometheusRule's groups as a plain rule file, checked and unit-tested."""
    rules = tmp_path / "rules.yaml"
    with rules.open("w") as out:
        YAML(typ="safe").dump({"groups": rule_groups()}, out)
    shutil.copy(TESTS, tmp_path / TESTS.name)
    checked = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool(), "test", "rules", TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = YAML(typ="safe").load(TESTS.read_text())["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(alerts()) == fired, "every alert fires on a series that should fire it"
    assert set(alerts()) == quiet, "every alert stays quiet where it should"
    assert {"CamctlStreamStalled", "CamctlStreamRestartStorm"} <= set(alerts())


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_links_its_runbook(name: str) -> None:
    url = alerts()[name]["annotations"]["runbook_url"]
    assert url.endswith(f"/docs/operations/runbooks/{name}.md"), url
    runbook = (RUNBOOKS / f"{name}.md").read_text()
    assert runbook.startswith(f"# {name}\n") and "**Meaning.**" in runbook
    assert "**What to do.**" in runbook
    assert f"[{name}]({name}.md)" in (RUNBOOKS / "README.md").read_text()


def series_in(expr: str) -> set[str]:
    """The series a PromQL expression reads: identifiers that are no function, keyword,
    label, grouping or template variable."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^{}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", text)
    return {n for n in names if n.lower() not in PROMQL_WORDS}


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(re.sub(r"label_values\((\w+),.*\)", r"\1", query["query"]))
    return exprs


def test_series_are_found_in_expressions() -> None:
    assert series_in('sum by (le) (rate(camctl_x_bucket{a="b"}[5m])) / camctl_y') == {
        "camctl_x_bucket",
        "camctl_y",
    }
    assert series_in("camctl_a == 1 and on(namespace, name) camctl_b == 0") == {
        "camctl_a",
        "camctl_b",
    }
    assert series_in("time() - camctl_t > 600") == {"camctl_t"}


def test_rules_and_dashboard_read_only_series_camctl_exports() -> None:
    known = metric_names() | SCRAPE_SERIES
    exprs = {f"alert {name}": rule["expr"] for name, rule in alerts().items()}
    exprs |= {f"dashboard: {expr}": expr for expr in dashboard_exprs()}
    assert len(exprs) > 20
    for where, expr in exprs.items():
        read = series_in(str(expr))
        assert read, f"{where}: reads no series"
        assert read <= known, f"{where}: {sorted(read - known)} are not exported"


def test_the_dashboard_is_grafana_json_with_a_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "camctl" and board["panels"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
    read = set().union(*(series_in(e) for e in dashboard_exprs()))
    assert {"camctl_stream_healthy", "camctl_stream_restarts_total"} <= read
    assert {"camctl_stream_inbound_bitrate", "camctl_resource_info"} <= read
