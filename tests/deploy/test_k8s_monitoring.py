"""components/monitoring: it composes with an overlay, and what it asks of Prometheus is true.

Rendered as an operator would compose it (``deploy/k8s/tests/monitoring``: the production
overlay plus the component). Every metric an alert rule or a dashboard panel names must be one
the code exports (``mlconnector.metrics.exported_names``), so a renamed metric cannot leave an
alert silently watching nothing; every alert says how severe it is, what it is, and links a
section of docs/operations.md that exists; the monitors scrape ports the workloads serve
/metrics on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from mlconnector.metrics import exported_names

K8S_VERSION = "1.37.0"
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SEVERITIES = {"critical", "warning", "info"}
# What issue 11 asks the alerts to cover, by the alert that does.
REQUIRED_ALERTS = {
    "MLCDeadLetterQueueNotEmpty",  # DLQ not empty
    "MLCRecordsStuckPending",  # records stuck pending longer than the retry budget
    "MLCBCSubscriptionExpiringSoon",  # subscription expiring within 24 h
    "MLCNoWebhooks",  # no webhook for a configurable time during business hours
    "MLCApiThrottled",  # 429 storm
}
_STRINGS = re.compile(r'"[^"]*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}

Doc = dict[str, Any]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = _GROUPING.sub(" ", _RANGES.sub(" ", _MATCHERS.sub(" ", _STRINGS.sub(" ", expr))))
    names = set()
    for match in re.finditer(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("(") or match.group() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown document."""
    found = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(slug)
    return found


@pytest.fixture
def docs(monitoring: list[Doc]) -> list[Doc]:
    return monitoring


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def alerts(docs: list[Doc]) -> list[Doc]:
    (rule,) = of_kind(docs, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def dashboard(docs: list[Doc]) -> Doc:
    (config_map,) = [
        d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "ml-connector-dashboard"
    ]
    assert config_map["metadata"]["labels"] == {"grafana_dashboard": "1"}
    (text,) = config_map["data"].values()
    board: Doc = json.loads(text)
    return board


def panel_exprs(board: Doc) -> list[str]:
    return [t["expr"] for p in board["panels"] if p["type"] != "row" for t in p["targets"]]


def test_the_name_extraction_reads_promql() -> None:
    expr = (
        'sum by (a, le) (rate(foo_total{x="y", z=~"a|b"}[5m])) > 0 unless on (n) bar'
        " and on () (hour() >= 8 < 18) or histogram_quantile(0.9, baz_bucket offset 5m)"
    )
    assert metric_names(expr) == {"foo_total", "bar", "baz_bucket"}


def test_the_component_composes_with_an_overlay(docs: list[Doc]) -> None:
    kinds = {d["kind"] for d in docs}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    for doc in docs:
        assert doc["metadata"].get("namespace") in (None, "ml-connector-production"), doc
        if not doc["apiVersion"].startswith("monitoring.coreos.com/"):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_metric_the_alerts_and_the_dashboard_name_is_exported(docs: list[Doc]) -> None:
    exported = exported_names()
    exprs = [rule["expr"] for rule in alerts(docs)] + panel_exprs(dashboard(docs))
    assert exprs
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        assert names <= exported, f"{sorted(names - exported)} are not exported: {expr}"


def test_every_alert_says_how_bad_what_and_where_to_read_more(docs: list[Doc]) -> None:
    rules = alerts(docs)
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED_ALERTS
    sections = anchors(OPERATIONS.read_text(encoding="utf-8"))
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in sections, f"docs/operations.md has no section for {rule['alert']}"


def test_the_monitors_scrape_the_ports_metrics_are_served_on(docs: list[Doc]) -> None:
    services = of_kind(docs, "Service")
    monitored = set()
    for monitor in of_kind(docs, "ServiceMonitor"):
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
        assert selected, monitor["metadata"]["name"]
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["path"] == "/metrics"
            for service in selected:
                ports = {p["name"] for p in service["spec"]["ports"]}
                assert endpoint["port"] in ports, service["metadata"]["name"]
                assert endpoint["port"] != "http" or service["metadata"]["name"] == "reconciler-api"
                monitored.add(service["metadata"]["name"])
    assert monitored == {"bc-gateway", "stripe-gateway", "reconciler-api"}
    (pod_monitor,) = of_kind(docs, "PodMonitor")
    selector = pod_monitor["spec"]["selector"]["matchLabels"]
    (consumer,) = [
        d
        for d in of_kind(docs, "Deployment")
        if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    (container,) = consumer["spec"]["template"]["spec"]["containers"]
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in container["ports"]}


def test_the_dashboard_is_one_grafana_document(docs: list[Doc]) -> None:
    board = dashboard(docs)
    assert board["uid"] == "ml-connector"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in board["templating"]["list"]}
    assert variables == {"datasource", "namespace"}
    for expr in panel_exprs(board):
        assert 'namespace="$namespace"' in expr, expr


def _hours_between_runs(schedule: str) -> int:
    hours = schedule.split()[1]
    assert hours.startswith("*/"), f"expected an every-N-hours schedule: {schedule}"
    return int(hours[2:])


def test_a_healthy_renewal_never_trips_the_expiry_alert(docs: list[Doc]) -> None:
    """renew-subscriptions renews what expires within the margin, every N hours: at worst
    margin - N hours remain, which must stay above the alert's threshold."""
    (rule,) = [r for r in alerts(docs) if r["alert"] == "MLCBCSubscriptionExpiringSoon"]
    threshold_h = int(re.search(r"<\s*(\d+)\s*$", rule["expr"]).group(1)) / 3600  # type: ignore[union-attr]
    (job,) = [
        d for d in of_kind(docs, "CronJob") if d["metadata"]["name"].endswith("renew-subscriptions")
    ]
    interval_h = _hours_between_runs(job["spec"]["schedule"])
    (config,) = [
        d
        for d in of_kind(docs, "ConfigMap")
        if d["metadata"]["name"].startswith("ml-connector-config")
    ]
    margin_h = float(config["data"]["MLC_BC_RENEW_MARGIN_HOURS"])
    assert margin_h <= 72, "a margin past BC's 3 days would renew on every run"
    assert margin_h - interval_h >= threshold_h + 2, (margin_h, interval_h, threshold_h)


def test_the_pushgateway_is_where_the_network_policies_let_the_polls_push(
    docs: list[Doc],
) -> None:
    (config,) = [
        d
        for d in of_kind(docs, "ConfigMap")
        if d["metadata"]["name"].startswith("ml-connector-config")
    ]
    url = urlsplit(config["data"]["MLC_METRICS_PUSHGATEWAY"])
    host = url.hostname or ""
    assert host.split(".")[1:3] == ["monitoring", "svc"], host
    ports = {
        port["port"]
        for policy in of_kind(docs, "NetworkPolicy")
        if policy["metadata"]["name"].endswith("pushgateway-egress")
        for rule in policy["spec"]["egress"]
        for port in rule["ports"]
    }
    assert ports == {url.port}
