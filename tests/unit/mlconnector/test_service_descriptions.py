"""Each service's OpenAPI description is true to its app: every route described, nothing else.

The documents are generated from each service's marshmallow schemas (and, for the gateways,
their permission tables); these tests tie them to the apps themselves. Each URL rule and method
of an app is a described operation and each described operation a rule; the document served at
``/openapi.json`` without credentials is that document; it is valid OpenAPI 3.1; the open routes
ask for no credential; every gateway command needs the reconciler's service token and names the
grant ``api.access`` gives it, and every other reconciler route needs the operator token.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from authorization_matrix import Route
from authorization_matrix import routes
from factories import SERVICE_SECRETS
from flask import Flask
from schemathesis.core.result import Ok

import bc_gateway
import reconciler.api
import stripe_gateway
from bc_gateway.api import access as bc_access
from bc_gateway.api import openapi as bc_openapi
from mlconnector.openapi import app_operations
from mlconnector.openapi import document_operations
from mlconnector.openapi import openapi_path
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.api import openapi as reconciler_openapi
from stripe_gateway.api import access as stripe_access
from stripe_gateway.api import openapi as stripe_openapi

MASTER_KEY = "test-master-key-openapi"


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    create_app: Callable[[], Flask]
    document: Callable[[], Mapping[str, Any]]
    # Gateways: each command's permission; the reconciler API has one operator token instead.
    permissions: Mapping[str, str] | None
    guarded_security: list[dict[str, list[str]]]
    guarded_statuses: set[str]


SERVICES = [
    Service(
        "bc-gateway",
        bc_gateway.create_app,
        bc_openapi.document,
        bc_access.PERMISSIONS,
        [{"serviceToken": []}],
        {"401", "403", "503"},
    ),
    Service(
        "stripe-gateway",
        stripe_gateway.create_app,
        stripe_openapi.document,
        stripe_access.PERMISSIONS,
        [{"serviceToken": []}],
        {"401", "403", "503"},
    ),
    Service(
        "reconciler",
        reconciler.api.create_app,
        reconciler_openapi.document,
        None,
        [{"replayToken": []}],
        {"401", "429"},
    ),
]


@pytest.fixture(params=SERVICES, ids=[s.name for s in SERVICES])
def service(request: pytest.FixtureRequest) -> Service:
    chosen: Service = request.param
    return chosen


@pytest.fixture
def app(service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
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
    return service.create_app()


def described(service: Service, route: Route, app: Flask) -> dict[str, Any]:
    """The described operation of one route of ``app``."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == route.endpoint)
    operation: dict[str, Any] = service.document()["paths"][openapi_path(rule.rule)][
        route.method.lower()
    ]
    return operation


class TestDescription:
    def test_every_route_is_described_and_every_description_routed(
        self, service: Service, app: Flask
    ) -> None:
        routed, documented = app_operations(app), document_operations(service.document())

        assert routed - documented == set(), "routes missing from the description"
        assert documented - routed == set(), "described operations the app does not route"

    def test_the_app_serves_it_without_credentials(self, service: Service, app: Flask) -> None:
        response = app.test_client().get("/openapi.json")

        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.get_json() == service.document()

    def test_it_is_valid_openapi_3_1(self, service: Service) -> None:
        schema = schemathesis.openapi.from_dict(dict(service.document()))

        schema.validate()
        assert service.document()["openapi"] == "3.1.0"
        assert all(isinstance(result, Ok) for result in schema.get_all_operations())

    def test_open_routes_need_no_credentials(self, service: Service, app: Flask) -> None:
        open_routes = [route for route in routes(app) if not route.is_command]

        assert open_routes
        for route in open_routes:
            # No service credentials; a webhook's own proof (Stripe's signature) may be named.
            security = described(service, route, app)["security"]
            assert security in ([], [{"stripeSignature": []}]), route

    def test_every_other_route_needs_its_token(self, service: Service, app: Flask) -> None:
        guarded = [route for route in routes(app) if route.is_command]

        assert guarded
        if service.permissions is not None:
            assert {route.endpoint for route in guarded} == set(service.permissions)
        for route in guarded:
            operation = described(service, route, app)
            assert operation["security"] == service.guarded_security, route
            assert service.guarded_statuses <= set(operation["responses"]), route
            if service.permissions is not None:
                assert operation["x-permission"] == service.permissions[route.endpoint], route
