"""What may talk to what: the Ingress and the NetworkPolicies.

The policies are evaluated here the way the API server does for the parts we use (matchLabels
pod and namespace selectors, numeric and named ports), so each test states a reachability fact
about the rendered overlay rather than the shape of the YAML: "the command port is reachable from
the reconciler and from nothing else". A connection needs both ends: the target's ingress
policies must admit it and, when the source is one of our pods, the source's egress policies too.

The trust boundary (docs/security.md, "Network boundaries on Kubernetes") in brief:

- a gateway's `http` port (8080) serves the webhook; only the ingress controller's pods reach it
  (and the kubelet's probes, which come from the node and are not subject to these policies);
- its `commands` port (8090) serves the command API; only the reconciler's consumer and API
  pods reach it, and the Ingress never routes to it;
- the reconciler API is reachable only from labelled pods of its own namespace;
- Prometheus (namespace `monitoring`, label `app.kubernetes.io/name: prometheus`) reaches each
  workload's metrics port and no other: the gateways' `commands` port, the reconciler API's port
  and the consumer's `metrics` port; the poll CronJobs reach the Pushgateway there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

GATEWAYS = ("bc-gateway", "stripe-gateway")
WEBHOOKS = {"/webhooks/stripe": "stripe-gateway", "/webhooks/bc": "bc-gateway"}
WEBHOOK_PORT, COMMAND_PORT = 8080, 8090
INGRESS_NAMESPACE = "nginx-ingress"
# The labels both install methods of the NGINX Ingress Controller (Helm chart and manifests) give
# the controller's pods.
INGRESS_CONTROLLER_LABELS = {"app.kubernetes.io/name": "nginx-ingress"}
API_CLIENT_LABEL = {"ml-connector.io/reconciler-api-client": "true"}
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
PUSHGATEWAY_LABELS = {"app.kubernetes.io/name": "prometheus-pushgateway"}
PUSHGATEWAY_PORT = 9091
CONSUMER_METRICS_PORT = 9102
NAMESPACE_NAME = "kubernetes.io/metadata.name"
# Connection-level reachability only; the API's own authentication is the application's.
RECONCILER_CALLERS = {
    "reconciler-consumer",
    "reconciler-api",
    "reconciler-drift-check",
    "reconciler-console",
}
CONSOLE = "Deployment/reconciler-console"


@dataclass(frozen=True)
class Source:
    """A pod that might open a connection: its namespace and labels, and a name for messages."""

    name: str
    namespace: str
    labels: dict[str, str]
    ours: bool = False  # one of the overlay's pod templates (its egress policies apply)

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {NAMESPACE_NAME: self.namespace}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert "matchExpressions" not in selector, "only matchLabels selectors are evaluated here"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def _namespace(overlay: Any) -> str:
    return f"ml-connector-{overlay.overlay}"


def _policies(overlay: Any, labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    return [
        p
        for p in overlay.of_kind("NetworkPolicy")
        if direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
    ]


def _rules(overlay: Any, labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    key = direction.lower()
    return [
        rule
        for policy in _policies(overlay, labels, direction)
        for rule in policy["spec"].get(key, [])
    ]


def _egress_ports(overlay: Any, labels: dict[str, str]) -> set[int]:
    return {port["port"] for rule in _rules(overlay, labels, "Egress") for port in rule["ports"]}


def _ingress_rules(overlay: Any, labels: dict[str, str]) -> list[dict[str, Any]]:
    return _rules(overlay, labels, "Ingress")


def _container_ports(template: Any) -> dict[str, int]:
    return {
        port["name"]: port["containerPort"]
        for container in template.containers()
        for port in container.get("ports", [])
    }


def _port_matches(rule: dict[str, Any], port: int, named: dict[str, int]) -> bool:
    """A rule's ports (numeric, or named after the target's container ports); none = all."""
    if "ports" not in rule:
        return True
    for allowed in rule["ports"]:
        assert allowed.get("protocol", "TCP") == "TCP" or allowed["port"] == 53
        assert "endPort" not in allowed, "port ranges are not evaluated here"
        value = allowed["port"]
        if (named.get(value) if isinstance(value, str) else value) == port:
            return True
    return False


def _peer_matches(peer: dict[str, Any], source: Source, own_namespace: str) -> bool:
    """One `from`/`to` element: namespace and pod selectors in one element must both match; a
    pod selector alone means the policy's own namespace. Our ipBlocks address public networks
    (private ranges excepted) and so never a pod; ingress rules have none (tested below)."""
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], source.namespace_labels):
            return False
    elif source.namespace != own_namespace:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], source.labels)


def _admitted(
    overlay: Any, target: Any, port: int, source: Source, *, ingress_only: bool = False
) -> bool:
    """Whether `source` may open a TCP connection to pods of `target` (a PodTemplate) on `port`;
    with `ingress_only`, whether the target's ingress policies alone would let it in."""
    namespace = _namespace(overlay)
    named = _container_ports(target)
    policies = _policies(overlay, target.labels, "Ingress")
    assert policies, f"{target.ident} is not isolated for ingress"
    inbound = any(
        _port_matches(rule, port, named)
        and ("from" not in rule or any(_peer_matches(p, source, namespace) for p in rule["from"]))
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
    )
    if not inbound or not source.ours or ingress_only:
        return inbound
    destination = Source(target.ident, namespace, target.labels)
    return any(
        _port_matches(rule, port, named)
        and ("to" not in rule or any(_peer_matches(p, destination, namespace) for p in rule["to"]))
        for rule in _rules(overlay, source.labels, "Egress")
    )


def _template(overlay: Any, ident: str) -> Any:
    (found,) = [t for t in overlay.pod_templates() if t.ident == ident]
    return found


def _sources(overlay: Any) -> list[Source]:
    """Every pod of the overlay, and the pods around it that must or must not get in."""
    namespace = _namespace(overlay)
    ours = [Source(t.owner_name, namespace, t.labels, ours=True) for t in overlay.pod_templates()]
    return [
        *ours,
        Source("ingress-controller", INGRESS_NAMESPACE, INGRESS_CONTROLLER_LABELS),
        Source("other-pod-of-the-ingress-namespace", INGRESS_NAMESPACE, {"app": "debug"}),
        Source("ingress-lookalike-elsewhere", "default", INGRESS_CONTROLLER_LABELS),
        Source("reconciler-lookalike-elsewhere", "default", _pods(overlay, "reconciler")[0]),
        Source("unlabelled-pod-of-this-namespace", namespace, {"app": "toolbox"}),
        Source("api-client-of-this-namespace", namespace, API_CLIENT_LABEL),
        Source("api-client-elsewhere", "default", API_CLIENT_LABEL),
        Source("prometheus", MONITORING_NAMESPACE, PROMETHEUS_LABELS),
        Source("other-pod-of-the-monitoring-namespace", MONITORING_NAMESPACE, {"app": "grafana"}),
        Source("prometheus-lookalike-elsewhere", "default", PROMETHEUS_LABELS),
    ]


def _who_reaches(overlay: Any, target: Any, port: int) -> set[str]:
    """The sources that get through both ends. The target's ingress policies alone must admit
    exactly those: an opening that only the sources' egress rules close, or a caller whose
    egress rule is missing, fails here."""
    sources = _sources(overlay)
    reaching = {s.name for s in sources if _admitted(overlay, target, port, s)}
    admitted = {s.name for s in sources if _admitted(overlay, target, port, s, ingress_only=True)}
    assert admitted == reaching, f"{target.ident}:{port}: admits {admitted}, reached by {reaching}"
    return reaching


def _pods(overlay: Any, name: str, component: str | None = None) -> list[dict[str, str]]:
    return [
        t.labels
        for t in overlay.pod_templates()
        if t.labels["app.kubernetes.io/name"] == name
        and (component is None or t.labels["app.kubernetes.io/component"] == component)
    ]


def _service_port(overlay: Any, service: str, name: str) -> dict[str, Any]:
    (port,) = [p for p in overlay.get("Service", service)["spec"]["ports"] if p["name"] == name]
    return port


def test_the_ingress_exposes_the_two_webhook_paths_and_the_console_only(
    overlay: Any,
) -> None:
    (ingress,) = overlay.of_kind("Ingress")
    spec = ingress["spec"]
    assert "defaultBackend" not in spec
    (rule,) = spec["rules"]
    assert spec["tls"][0]["hosts"] == [rule["host"]]
    routes = {p["path"]: p for p in rule["http"]["paths"]}
    assert set(routes) == {*WEBHOOKS, "/console"}
    console = routes["/console"]
    assert console["pathType"] == "Prefix"
    assert console["backend"]["service"] == {"name": "reconciler-console", "port": {"name": "http"}}
    pods = _template(overlay, CONSOLE)
    assert _who_reaches(overlay, pods, WEBHOOK_PORT) == {"ingress-controller"}
    for path, service in WEBHOOKS.items():
        assert routes[path]["pathType"] == "Exact"
        backend = routes[path]["backend"]["service"]
        assert backend == {"name": service, "port": {"name": "http"}}
        # ... and that Service port leads to the container's webhook port, not the commands one.
        assert _service_port(overlay, service, "http")["targetPort"] == "http"
        ports = _container_ports(_template(overlay, f"Deployment/{service}"))
        assert ports["http"] == WEBHOOK_PORT != ports["commands"]
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


def test_every_rule_names_its_ports(overlay: Any) -> None:
    """A rule without `ports` would open every port of its peers (or of the selected pods)."""
    for policy in overlay.of_kind("NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction, []):
                assert rule.get("ports"), f"{policy['metadata']['name']}: a rule opens all ports"


def test_ingress_rules_admit_pods_not_addresses(overlay: Any) -> None:
    """Sources are chosen by labels; an ipBlock would admit whatever holds an address."""
    for policy in overlay.of_kind("NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert rule["from"], policy["metadata"]["name"]
            assert all("ipBlock" not in peer for peer in rule["from"]), policy["metadata"]["name"]


def test_every_pod_may_resolve_names(overlay: Any) -> None:
    for template in overlay.pod_templates():
        assert 53 in _egress_ports(overlay, template.labels), template.ident


def test_gateways_reach_the_broker_vault_and_their_apis_but_no_database(overlay: Any) -> None:
    for gateway in GATEWAYS:
        for labels in _pods(overlay, gateway):
            ports = _egress_ports(overlay, labels)
            assert {5672, 5671, 8200, 443} <= ports, gateway
            assert 5432 not in ports, gateway


def test_the_reconciler_reaches_its_database_and_the_gateways_but_not_the_internet(
    overlay: Any,
) -> None:
    for labels in _pods(overlay, "reconciler"):
        ports = _egress_ports(overlay, labels)
        assert {5672, 5432, 8200, COMMAND_PORT} <= ports
        # Only the console signs people in at Entra ID; no other reconciler pod leaves the cluster.
        assert (443 in ports) is (labels["app.kubernetes.io/component"] == "console"), labels
        assert WEBHOOK_PORT not in ports, "the reconciler has no business on the webhook port"


def test_the_command_port_is_reachable_only_from_the_reconciler_and_prometheus(
    overlay: Any,
) -> None:
    """Prometheus reads /metrics there (never on the webhook port); commands still need the
    reconciler's service token, which Prometheus does not hold."""
    for gateway in GATEWAYS:
        server = _template(overlay, f"Deployment/{gateway}")
        assert _container_ports(server)["commands"] == COMMAND_PORT
        reaching = _who_reaches(overlay, server, COMMAND_PORT)
        assert reaching == RECONCILER_CALLERS | {"prometheus"}, gateway


def test_the_webhook_port_is_reachable_only_from_the_ingress_controller(overlay: Any) -> None:
    for gateway in GATEWAYS:
        server = _template(overlay, f"Deployment/{gateway}")
        assert _container_ports(server)["http"] == WEBHOOK_PORT
        assert _who_reaches(overlay, server, WEBHOOK_PORT) == {"ingress-controller"}, gateway


def test_gateway_servers_open_no_other_port(overlay: Any) -> None:
    for gateway in GATEWAYS:
        server = _template(overlay, f"Deployment/{gateway}")
        named = _container_ports(server)
        opened = {
            named.get(p["port"], p["port"])
            for rule in _ingress_rules(overlay, server.labels)
            for p in rule["ports"]
        }
        assert opened == {WEBHOOK_PORT, COMMAND_PORT}, gateway


def test_the_reconciler_api_is_reachable_only_from_labelled_pods_of_its_namespace(
    overlay: Any,
) -> None:
    api = _template(overlay, "Deployment/reconciler-api")
    (port,) = _container_ports(api).values()
    assert _who_reaches(overlay, api, port) == {"api-client-of-this-namespace", "prometheus"}
    opened = {p["port"] for rule in _ingress_rules(overlay, api.labels) for p in rule["ports"]}
    assert opened == {port}
    # Off the public ingress: no Ingress routes to its Service.
    for ingress in overlay.of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] != "reconciler-api"


def test_the_cronjobs_accept_no_connections(overlay: Any) -> None:
    quiet = [t.labels for t in overlay.pod_templates() if t.owner_kind in ("CronJob", "Job")]
    for labels in quiet:
        assert _ingress_rules(overlay, labels) == [], labels


def test_the_consumer_accepts_only_prometheus_on_its_metrics_port(overlay: Any) -> None:
    consumer = _template(overlay, "Deployment/reconciler-consumer")
    assert _container_ports(consumer) == {"metrics": CONSUMER_METRICS_PORT}
    assert _who_reaches(overlay, consumer, CONSUMER_METRICS_PORT) == {"prometheus"}
    opened = {p["port"] for rule in _ingress_rules(overlay, consumer.labels) for p in rule["ports"]}
    assert opened == {CONSUMER_METRICS_PORT}


def test_prometheus_reaches_the_metrics_ports_and_no_other(overlay: Any) -> None:
    """Where /metrics answers (the pods' prometheus.io/port annotation), Prometheus gets in;
    anywhere else it does not: not the gateways' webhook port, not any other pod."""
    prometheus = Source("prometheus", MONITORING_NAMESPACE, PROMETHEUS_LABELS)
    scraped = 0
    for template in overlay.pod_templates():
        if template.owner_kind != "Deployment":
            continue
        if template.ident == CONSOLE:
            # The API's pods publish the figures; the console's are not scraped at all.
            for port in _container_ports(template).values():
                assert not _admitted(overlay, template, port, prometheus), template.ident
            continue
        annotations = _annotations(overlay, template)
        metrics_port = int(annotations["prometheus.io/port"])
        assert annotations["prometheus.io/path"] == "/metrics", template.ident
        assert metrics_port in _container_ports(template).values(), template.ident
        for port in _container_ports(template).values():
            admitted = _admitted(overlay, template, port, prometheus)
            assert admitted is (port == metrics_port), f"{template.ident}:{port}"
        scraped += 1
    assert scraped == 4  # both gateways, the reconciler API and the consumer


def _annotations(overlay: Any, template: Any) -> dict[str, str]:
    kind, _, name = template.ident.partition("/")
    owner = overlay.get(kind, name)
    annotations: dict[str, str] = owner["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true", template.ident
    return annotations


def test_only_the_poll_cronjobs_reach_the_pushgateway(overlay: Any) -> None:
    pushgateway = Source("pushgateway", MONITORING_NAMESPACE, PUSHGATEWAY_LABELS)
    pushing = set()
    for template in overlay.pod_templates():
        for rule in _rules(overlay, template.labels, "Egress"):
            if _port_matches(rule, PUSHGATEWAY_PORT, {}) and any(
                _peer_matches(peer, pushgateway, _namespace(overlay)) for peer in rule["to"]
            ):
                pushing.add(template.ident)
    assert pushing == {"CronJob/bc-gateway-poll-invoices", "CronJob/stripe-gateway-poll"}


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
        # The reconciler calls the command API: the Service's `commands` port.
        port = _service_port(overlay, service, "commands")
        assert port["targetPort"] == "commands"
        assert config[variable] == f"http://{service}:{port['port']}"


def test_the_rate_limit_store_is_shared_and_reachable_from_the_http_servers_only(
    overlay: Any,
) -> None:
    """Counters in one Redis for every worker and replica (memory:// would give each process
    its own budget); no password in the manifest; only the pods serving HTTP may reach it."""
    url = urlsplit(overlay.config()["MLC_RATELIMIT_STORAGE"])
    assert url.scheme in ("redis", "rediss"), url.scheme
    assert url.username is None, "credentials belong in Vault, not in the ConfigMap"
    assert url.password is None, "credentials belong in Vault, not in the ConfigMap"
    host = url.hostname or ""
    labels = host.split(".")
    assert labels[2:3] == ["svc"], f"expected <service>.<namespace>.svc: {host}"
    store = Source("redis", labels[1], {})
    port = url.port or 6379
    servers = {
        "Deployment/bc-gateway",
        "Deployment/stripe-gateway",
        "Deployment/reconciler-api",
        CONSOLE,  # its sessions too (MLC_CONSOLE_SESSION_STORE)
    }
    for template in overlay.pod_templates():
        reaches = any(
            _port_matches(rule, port, {})
            and any(_peer_matches(peer, store, _namespace(overlay)) for peer in rule["to"])
            for rule in _rules(overlay, template.labels, "Egress")
        )
        assert reaches is (template.ident in servers), template.ident
