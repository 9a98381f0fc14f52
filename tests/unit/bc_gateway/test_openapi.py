"""bc-gateway's OpenAPI description is true to the app: every route described, nothing else.

The document is generated from the service's marshmallow schemas and permission table
(``bc_gateway.api.openapi``); these tests tie it to the app itself.
Each URL rule and method of the app is a described operation and each described operation a
rule; the document served at ``/openapi.json`` without credentials is that document; it is
valid OpenAPI 3.1; and every command needs the reconciler's service token and names the grant
``api.access`` gives it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from factories import SERVICE_SECRETS
from flask import Flask
from schemathesis.core.result import Ok

from bc_gateway import create_app
from bc_gateway.api.access import PERMISSIONS
from bc_gateway.api.openapi import document
from mlconnector.openapi import app_operations
from mlconnector.openapi import document_operations
from mlconnector.openapi import openapi_path
from mlconnector.secrets_file import EncryptedFileSecrets

MASTER_KEY = "test-master-key-openapi"
OPEN_BLUEPRINTS = ("health", "openapi", "webhooks")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app as ``wsgi.py`` builds it, from ``MLC_*`` settings; nothing is connected."""
    store = EncryptedFileSecrets(tmp_path / "secrets.enc", MASTER_KEY)
    for path, values in SERVICE_SECRETS.items():
        store.write(path, values)
    for name in [n for n in os.environ if n.startswith("MLC_")]:
        monkeypatch.delenv(name)
    env = {
        "MLC_ENVIRONMENT": "test",
        "MLC_AMQP_URL": "amqp://guest:guest@127.0.0.1:9/%2F",
        "MLC_SECRETS_BACKEND": "file",
        "MLC_SECRETS_FILE": str(store.path),
        "MLC_MASTER_KEY": MASTER_KEY,
        "MLC_DATABASE_URL": f"sqlite:///{tmp_path / 'reconciler.db'}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app()


def described(endpoint_rule: Any) -> dict[str, Any]:
    """The described operation of one URL rule and method."""
    rule, method = endpoint_rule
    operation: dict[str, Any] = document()["paths"][openapi_path(rule.rule)][method.lower()]
    return operation


def rules(app: Flask) -> list[tuple[Any, str]]:
    """Rules and methods of the app's views (Flask's own ``static`` rule has no folder behind
    it and is not part of the API; ``app_operations`` leaves it out the same way)."""
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


class TestDescription:
    def test_every_route_is_described_and_every_description_routed(self, app: Flask) -> None:
        routed, documented = app_operations(app), document_operations(document())

        assert routed - documented == set(), "routes missing from the description"
        assert documented - routed == set(), "described operations the app does not route"

    def test_the_app_serves_it_without_credentials(self, app: Flask) -> None:
        response = app.test_client().get("/openapi.json")

        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.get_json() == document()

    def test_it_is_valid_openapi_3_1(self) -> None:
        schema = schemathesis.openapi.from_dict(dict(document()))

        schema.validate()
        assert document()["openapi"] == "3.1.0"
        assert all(isinstance(result, Ok) for result in schema.get_all_operations())

    def test_open_routes_need_no_credentials(self, app: Flask) -> None:
        open_rules = [r for r in rules(app) if r[0].endpoint.split(".")[0] in OPEN_BLUEPRINTS]

        assert open_rules
        for rule in open_rules:
            # No service credentials; a webhook's own proof (Stripe's signature) may be named.
            assert described(rule)["security"] in ([], [{"stripeSignature": []}]), rule

    def test_every_command_needs_a_token_and_names_the_grant_it_checks(self, app: Flask) -> None:
        commands = [r for r in rules(app) if r[0].endpoint.split(".")[0] not in OPEN_BLUEPRINTS]

        assert {rule.endpoint for rule, _ in commands} == set(PERMISSIONS)
        for rule, method in commands:
            operation = described((rule, method))
            assert operation["security"] == [{"serviceToken": []}], rule
            assert operation["x-permission"] == PERMISSIONS[rule.endpoint], rule
            assert {"401", "403", "503"} <= set(operation["responses"]), rule
