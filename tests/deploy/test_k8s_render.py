"""The overlays render, every object is valid Kubernetes, and nothing secret is in them.

Validation uses the JSON schemas shipped with ``kubernetes-validate`` in strict mode (unknown
fields are errors, which catches misspelt or misplaced keys that ``kubectl apply`` would silently
drop), against the newest Kubernetes version the locked package ships schemas for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

SERVICES = ("bc-gateway", "stripe-gateway", "reconciler")
K8S_VERSION = "1.37.0"

# Literal values that must never appear in a manifest: API keys, webhook secrets, Vault tokens,
# private keys and credentials inside URLs (scheme://user:password@host).
SECRET_PATTERNS = {
    "Stripe key": re.compile(r"\b[sr]k_(live|test)_[0-9A-Za-z]+"),
    "Stripe webhook secret": re.compile(r"\bwhsec_[0-9A-Za-z]+"),
    "Vault token": re.compile(r"\bhv[sbr]\.[0-9A-Za-z_-]{20,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
}
# Names (env vars, ConfigMap keys, any mapping key) that say their value is a credential.
SECRET_WORDS = re.compile(
    r"password|passwd|(^|_)secret($|_)|(^|_)token($|_)|api_?key|master_?key|client_?secret",
    re.IGNORECASE,
)


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, string) leaf of a parsed YAML document, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", str(key)
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def _entries(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of every mapping in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", str(key), value
            yield from _entries(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _entries(value, f"{path}[{index}]")


def _ident(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def test_the_schemas_for_the_chosen_kubernetes_version_are_shipped() -> None:
    assert K8S_VERSION in all_versions()


def test_strict_validation_rejects_an_unknown_field() -> None:
    """Proves the validator is strict, so the next test means something."""
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError, match="lables"):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_every_rendered_object_is_valid_kubernetes(overlay: Any) -> None:
    assert overlay.app, "the overlay rendered nothing"
    assert overlay.migrations, "the migrations overlay rendered nothing"
    for doc in overlay.everything:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay.overlay}: {_ident(doc)} is invalid: {exc.message}")


def test_no_secret_objects_and_no_secret_literals(overlay: Any) -> None:
    assert not overlay.of_kind("Secret"), "Secrets are managed outside the manifests"
    for doc in overlay.everything:
        for where, text in _strings(doc):
            for what, pattern in SECRET_PATTERNS.items():
                assert not pattern.search(text), f"{_ident(doc)}{where}: looks like a {what}"
        for where, key, value in _entries(doc):
            if SECRET_WORDS.search(key):
                assert not isinstance(value, str), f"{_ident(doc)}{where}: {key} has a value"


def test_secret_named_values_are_never_literal(overlay: Any) -> None:
    """An env var or ConfigMap key named like a secret must come from a secretKeyRef."""
    for template in overlay.pod_templates():
        for container in template.containers():
            for var in container.get("env", []):
                if SECRET_WORDS.search(var["name"]):
                    assert "value" not in var, f"{template.ident}: literal {var['name']}"
    for key in overlay.config():
        assert not SECRET_WORDS.search(key), f"ConfigMap key {key} looks secret"


def test_connection_urls_come_only_from_the_services_own_secret(overlay: Any) -> None:
    """Broker and database URLs carry passwords: each pod reads them from `<service>-connection`,
    never from the ConfigMap, and never from another service's Secret."""
    config = overlay.config()
    for forbidden in ("MLC_AMQP_URL", "MLC_DATABASE_URL", "MLC_MASTER_KEY", "MLC_VAULT_TOKEN"):
        assert forbidden not in config
    for template in overlay.pod_templates():
        service = template.labels["app.kubernetes.io/name"]
        for container in template.containers():
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if var["name"] in ("MLC_AMQP_URL", "MLC_DATABASE_URL"):
                    assert ref, f"{template.ident}: {var['name']} must come from a Secret"
                if ref:
                    assert ref["name"] == f"{service}-connection", template.ident
                    assert ref.get("optional") is not True, template.ident


def test_settings_select_production_mode_and_vault(overlay: Any) -> None:
    config = overlay.config()
    # "test" would enable the consumer's fault-injection kill points.
    assert config["MLC_ENVIRONMENT"] == "production"
    assert config["MLC_SECRETS_BACKEND"] == "vault"
    assert config["MLC_VAULT_AUTH"] == "kubernetes"
    assert config["MLC_VAULT_ADDR"].startswith("https://")
    assert config["MLC_LOG_LEVEL"] in ("INFO", "WARNING"), "DEBUG logs Stripe request bodies"


def test_images_are_the_three_services_with_one_release_tag(overlay: Any) -> None:
    tags = set()
    for template in overlay.pod_templates():
        for container in template.containers():
            image = container["image"]
            repository, _, tag = image.partition("@")[0].rpartition(":")
            assert repository.rsplit("/", 1)[-1] in SERVICES, f"{template.ident}: {image}"
            assert "@sha256:" in image or (tag and tag != "latest"), f"unpinned {image}"
            # The image of a container is the one whose CLI it runs.
            assert repository.endswith("/" + container["command"][0]), template.ident
            tags.add(tag)
    assert len(tags) == 1, f"{overlay.overlay}: images from different releases: {tags}"


def test_every_object_lives_in_the_overlay_namespace(overlay: Any) -> None:
    namespace = f"ml-connector-{overlay.overlay}"
    for doc in overlay.everything:
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == namespace
            labels = doc["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        else:
            assert doc["metadata"].get("namespace") == namespace, _ident(doc)


def test_migrations_use_the_same_settings_and_release_as_the_app(overlay: Any) -> None:
    """Same Namespace, same ConfigMap (same hash) and an image of the same release."""
    for kind in ("Namespace", "ConfigMap"):
        in_app = overlay.of_kind(kind, overlay.app)
        assert in_app, kind
        assert overlay.of_kind(kind, overlay.migrations) == in_app, kind
    app_images = {
        c["image"] for t in overlay.pod_templates() if t.owner_kind != "Job" for c in t.containers()
    }
    job = overlay.get("Job", "reconciler-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] in app_images
