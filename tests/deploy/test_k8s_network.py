"""What may talk to what: the Ingress and the NetworkPolicies.

The policies are evaluated here the way the API server does for the parts we use (matchLabels
pod selectors, namespace selectors, ports), so each test states a reachability fact about the
rendered overlay rather than the shape of the YAML.
"""

from __future__ import annotations

from typing import Any

WEBHOOKS = {"/webhooks/stripe": "stripe-gateway", "/webhooks/bc": "bc-gateway"}
INGRESS_NAMESPACE = "nginx-ingress"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert "matchExpressions" not in selector, "only matchLabels selectors are evaluated here"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def _policies(overlay: Any, labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    return [
        p
        for p in overlay.of_kind("NetworkPolicy")
        if direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
    ]


def _egress_ports(overlay: Any, labels: dict[str, str]) -> set[int]:
    return {
        port["port"]
        for policy in _policies(overlay, labels, "Egress")
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }


def _ingress_rules(overlay: Any, labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        rule
        for policy in _policies(overlay, labels, "Ingress")
        for rule in policy["spec"].get("ingress", [])
    ]


def _pods(overlay: Any, name: str, component: str | None = None) -> list[dict[str, str]]:
    return [
        t.labels
        for t in overlay.pod_templates()
        if t.labels["app.kubernetes.io/name"] == name
        and (component is None or t.labels["app.kubernetes.io/component"] == component)
    ]


def test_the_ingress_exposes_exactly_the_two_webhook_paths(overlay: Any) -> None:
    (ingress,) = overlay.of_kind("Ingress")
    spec = ingress["spec"]
    assert "defaultBackend" not in spec
    (rule,) = spec["rules"]
    assert spec["tls"][0]["hosts"] == [rule["host"]]
    routes = {p["path"]: p for p in rule["http"]["paths"]}
    assert set(routes) == set(WEBHOOKS)
    services = {s["metadata"]["name"]: s for s in overlay.of_kind("Service")}
    for path, service in WEBHOOKS.items():
        assert routes[path]["pathType"] == "Exact"
        backend = routes[path]["backend"]["service"]
        assert backend["name"] == service
        assert backend["port"]["name"] in {p["name"] for p in services[service]["spec"]["ports"]}
    assert ingress["metadata"]["annotations"]["nginx.org/client-max-body-size"] == "1m"


def test_everything_is_denied_by_default(overlay: Any) -> None:
    denials = [
        p
        for p in overlay.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(denials) == 1


def test_every_pod_may_resolve_names(overlay: Any) -> None:
    for template in overlay.pod_templates():
        assert 53 in _egress_ports(overlay, template.labels), template.ident


def test_gateways_reach_the_broker_vault_and_their_apis_but_no_database(overlay: Any) -> None:
    for gateway in ("bc-gateway", "stripe-gateway"):
        for labels in _pods(overlay, gateway):
            ports = _egress_ports(overlay, labels)
            assert {5672, 5671, 8200, 443} <= ports, gateway
            assert 5432 not in ports, gateway


def test_the_reconciler_reaches_its_database_and_the_gateways_but_not_the_internet(
    overlay: Any,
) -> None:
    for labels in _pods(overlay, "reconciler"):
        ports = _egress_ports(overlay, labels)
        assert {5672, 5432, 8200, 8080} <= ports
        assert 443 not in ports
    (rule,) = [
        rule
        for policy in _policies(overlay, _pods(overlay, "reconciler", "consumer")[0], "Egress")
        for rule in policy["spec"].get("egress", [])
        if any(p["port"] == 8080 for p in rule["ports"])
    ]
    for gateway in ("bc-gateway", "stripe-gateway"):
        (server,) = _pods(overlay, gateway, "server")
        assert any(_selects(peer["podSelector"], server) for peer in rule["to"]), gateway


def test_gateway_servers_accept_only_the_ingress_controller_and_the_reconciler(
    overlay: Any,
) -> None:
    (reconciler, *_) = _pods(overlay, "reconciler")
    for gateway in ("bc-gateway", "stripe-gateway"):
        (server,) = _pods(overlay, gateway, "server")
        rules = _ingress_rules(overlay, server)
        peers = [peer for rule in rules for peer in rule["from"]]
        assert {p["port"] for rule in rules for p in rule["ports"]} == {8080}
        namespaces = [p["namespaceSelector"] for p in peers if "namespaceSelector" in p]
        assert namespaces == [{"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}]
        pods = [p["podSelector"] for p in peers if "namespaceSelector" not in p]
        assert pods
        assert all(_selects(selector, reconciler) for selector in pods)


def test_the_consumer_and_the_cronjobs_accept_no_connections(overlay: Any) -> None:
    quiet = _pods(overlay, "reconciler", "consumer") + [
        t.labels for t in overlay.pod_templates() if t.owner_kind in ("CronJob", "Job")
    ]
    for labels in quiet:
        assert _ingress_rules(overlay, labels) == [], labels


def test_configured_urls_point_at_the_rendered_routes_and_services(overlay: Any) -> None:
    config = overlay.config()
    (ingress,) = overlay.of_kind("Ingress")
    host = ingress["spec"]["rules"][0]["host"]
    # BC calls the URL registered with its subscriptions: it must be the Ingress route.
    assert config["MLC_BC_NOTIFICATION_URL"] == f"https://{host}/webhooks/bc"
    for variable, service in (
        ("MLC_BC_GATEWAY_URL", "bc-gateway"),
        ("MLC_STRIPE_GATEWAY_URL", "stripe-gateway"),
    ):
        (port,) = overlay.get("Service", service)["spec"]["ports"]
        assert config[variable] == f"http://{service}:{port['port']}"
