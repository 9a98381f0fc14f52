"""Invariants of every rendered workload: hardening, probes, resources, identity, availability.

Each test walks every pod template (Deployments, CronJobs and the migration Job) of each overlay,
so a new workload cannot skip a rule by being added in one place only.
"""

from __future__ import annotations

import posixpath
from typing import Any

APP_UID = 10001  # USER of services/*/Dockerfile
GATEWAYS = ("bc-gateway", "stripe-gateway")
EXPECTED_DEPLOYMENTS = {
    "bc-gateway",
    "stripe-gateway",
    "reconciler-consumer",
    "reconciler-api",
    "reconciler-console",
}
# Behind the ingress controller: one X-Forwarded-For hop to trust.
BEHIND_THE_INGRESS = {
    "Deployment/bc-gateway",
    "Deployment/stripe-gateway",
    "Deployment/reconciler-console",
}
HEARTBEAT_PROBE = ["reconciler", "heartbeat-check", "--max-age", "60"]


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    return container.get("securityContext", {}).get(key, pod.get("securityContext", {}).get(key))


def _env(container: dict[str, Any], config: dict[str, str]) -> dict[str, str]:
    """The container's literal environment: the ConfigMap, then its own `env` values."""
    values = dict(config)
    values.update({v["name"]: v["value"] for v in container.get("env", []) if "value" in v})
    return values


def _mount_source(pod: dict[str, Any], container: dict[str, Any], path: str) -> dict[str, Any]:
    """The volume mounted at (or above) ``path`` in ``container``."""
    mounts = [
        m
        for m in container.get("volumeMounts", [])
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
    ]
    assert mounts, f"nothing is mounted at {path}"
    name = max(mounts, key=lambda m: len(m["mountPath"]))["name"]
    (volume,) = [v for v in pod.get("volumes", []) if v["name"] == name]
    return volume


def test_the_expected_deployments_exist(overlay: Any) -> None:
    names = {d["metadata"]["name"] for d in overlay.of_kind("Deployment")}
    assert names == EXPECTED_DEPLOYMENTS


def test_the_console_pods_serve_the_console_and_not_the_api(overlay: Any) -> None:
    config = overlay.config()
    (console,) = [t for t in overlay.pod_templates() if t.ident == "Deployment/reconciler-console"]
    (container,) = console.containers()
    assert container["args"] == ["serve"]
    assert _env(container, config)["MLC_WEB_SERVES"] == "console"
    for template in overlay.pod_templates():
        for c in template.containers():
            if template.ident == "Deployment/reconciler-api":
                assert _env(c, config)["MLC_WEB_SERVES"] == "api", template.ident
    # Sign-in, sessions and links are configured; the secret is not (Vault holds it).
    for name in ("MLC_CONSOLE_AUTHORITY", "MLC_CONSOLE_CLIENT_ID", "MLC_CONSOLE_PUBLIC_URL"):
        assert config.get(name), name
    assert config["MLC_CONSOLE_SESSION_STORE"].startswith("redis://")
    assert config["MLC_CONSOLE_PUBLIC_URL"].startswith("https://")


def test_every_pod_runs_restricted(overlay: Any) -> None:
    for template in overlay.pod_templates():
        pod = template.spec
        assert not pod.get("hostNetwork"), template.ident
        assert not pod.get("hostPID"), template.ident
        assert pod["securityContext"].get("fsGroup") == APP_UID, template.ident
        for volume in pod.get("volumes", []):
            assert "hostPath" not in volume, template.ident
        for container in template.containers():
            where = f"{template.ident}/{container['name']}"
            assert _effective(pod, container, "runAsNonRoot") is True, where
            assert _effective(pod, container, "runAsUser") == APP_UID, where
            assert _effective(pod, container, "seccompProfile") == {"type": "RuntimeDefault"}
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert not context.get("privileged"), where
            # The root filesystem is read-only: /tmp must be a writable emptyDir.
            assert "emptyDir" in _mount_source(pod, container, "/tmp"), where


def test_every_container_has_requests_and_limits(overlay: Any) -> None:
    for template in overlay.pod_templates():
        for container in template.containers():
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) >= {"cpu", "memory"}, template.ident


def test_every_pod_has_its_own_service_account_without_an_api_token(overlay: Any) -> None:
    accounts = {d["metadata"]["name"]: d for d in overlay.of_kind("ServiceAccount")}
    for template in overlay.pod_templates():
        name = template.spec.get("serviceAccountName")
        assert name in accounts, f"{template.ident}: service account {name!r} is not rendered"
        assert name.startswith(template.labels["app.kubernetes.io/name"]), template.ident
        assert template.spec["automountServiceAccountToken"] is False, template.ident
        assert accounts[name]["automountServiceAccountToken"] is False, name


def test_vault_logins_use_a_short_lived_vault_audience_token(overlay: Any) -> None:
    """Pods that log in to Vault get a projected token for audience `vault` where
    MLC_VAULT_K8S_JWT_PATH points, and the role they use is their ServiceAccount's name (the
    binding deploy/vault/configure.sh creates)."""
    config = overlay.config()
    logged_in = 0
    for template in overlay.pod_templates():
        if template.owner_kind == "Job":
            continue  # the migration never talks to Vault
        for container in template.containers():
            env = _env(container, config)
            assert env["MLC_VAULT_ROLE"] == template.spec["serviceAccountName"], template.ident
            jwt_path = env["MLC_VAULT_K8S_JWT_PATH"]
            volume = _mount_source(template.spec, container, jwt_path)
            (source,) = volume["projected"]["sources"]
            token = source["serviceAccountToken"]
            assert token["audience"] == "vault"
            assert 600 <= token["expirationSeconds"] <= 3600
            assert token["path"] == posixpath.basename(jwt_path)
            logged_in += 1
    assert logged_in >= 7


def _ports(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def test_http_deployments_probe_healthz_and_readyz_on_the_http_port(overlay: Any) -> None:
    for deployment in overlay.of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            if "http" not in _ports(container):
                continue  # the consumer: a metrics port only, and a heartbeat file
            assert container["ports"][0]["name"] == "http"
            for probe in ("startupProbe", "livenessProbe"):
                assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            assert _env(container, overlay.config())["MLC_PORT"] == str(_ports(container)["http"])


def test_gateways_serve_webhooks_and_commands_on_separate_ports(overlay: Any) -> None:
    """`http` (MLC_PORT) for the webhook and the probes, `commands` (MLC_COMMAND_PORT) for the
    reconciler; the Service exposes both by name, each to the container port of that name."""
    for gateway in GATEWAYS:
        deployment = overlay.get("Deployment", gateway)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = _ports(container)
        assert set(ports) == {"http", "commands"}, gateway
        assert ports["http"] != ports["commands"], gateway
        env = _env(container, overlay.config())
        assert env["MLC_PORT"] == str(ports["http"]), gateway
        assert env["MLC_COMMAND_PORT"] == str(ports["commands"]), gateway
        service = overlay.get("Service", gateway)["spec"]["ports"]
        assert {(p["name"], p["targetPort"]) for p in service} == {
            ("http", "http"),
            ("commands", "commands"),
        }, gateway


def test_only_the_pods_behind_the_ingress_trust_one_proxy_hop(overlay: Any) -> None:
    """The gateways and the console sit behind the ingress controller (one X-Forwarded-For hop
    to trust); the reconciler API is called directly, so it must trust none, and the ConfigMap
    (read by everything) must not set it."""
    config = overlay.config()
    assert "MLC_TRUSTED_PROXIES" not in config
    assert "MLC_COMMAND_PORT" not in config
    for template in overlay.pod_templates():
        for container in template.containers():
            env = _env(container, config)
            if template.ident in BEHIND_THE_INGRESS:
                assert env["MLC_TRUSTED_PROXIES"] == "1", template.ident
            else:
                assert "MLC_TRUSTED_PROXIES" not in env, template.ident
                assert "MLC_COMMAND_PORT" not in env, template.ident


def test_the_consumer_is_probed_by_its_heartbeat_file(overlay: Any) -> None:
    deployment = overlay.get("Deployment", "reconciler-consumer")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # No HTTP service, only its metrics exporter, on the port MLC_METRICS_PORT names.
    assert _ports(container) == {"metrics": 9102}
    assert _env(container, overlay.config())["MLC_METRICS_PORT"] == "9102"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"] == HEARTBEAT_PROBE, probe
    heartbeat = _env(container, overlay.config())["MLC_HEARTBEAT_FILE"]
    assert "emptyDir" in _mount_source(pod, container, heartbeat)


def test_every_deployment_is_spread_and_has_a_disruption_budget(overlay: Any) -> None:
    budgets = overlay.of_kind("PodDisruptionBudget")
    for deployment in overlay.of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        matching = [
            b
            for b in budgets
            if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
            and b["metadata"]["name"] == deployment["metadata"]["name"]
        ]
        assert len(matching) == 1, deployment["metadata"]["name"]


def test_gateways_are_autoscaled_and_leave_replicas_to_the_autoscaler(overlay: Any) -> None:
    autoscalers = {h["metadata"]["name"]: h for h in overlay.of_kind("HorizontalPodAutoscaler")}
    assert set(autoscalers) == set(GATEWAYS)
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        assert "replicas" not in overlay.get("Deployment", name)["spec"]


def test_services_select_only_their_deployments_pods(overlay: Any) -> None:
    for service in overlay.of_kind("Service"):
        selector = service["spec"]["selector"]
        selected = [
            t.ident for t in overlay.pod_templates() if selector.items() <= t.labels.items()
        ]
        assert selected == [f"Deployment/{service['metadata']['name']}"], selected


def test_the_migration_job_is_bounded(overlay: Any) -> None:
    job = overlay.get("Job", "reconciler-migrate")["spec"]
    assert job["backoffLimit"] <= 3
    assert job["activeDeadlineSeconds"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"] + container["args"] == ["reconciler", "migrate"]
