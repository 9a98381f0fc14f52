"""Who may call stripe-gateway: the authorization matrix over every route (checklist cases 30, 31).

The guard answers before any view runs, so a refused command never reaches Stripe; the
end-to-end test ``tests/e2e/test_trust_boundary.py`` checks that against Stripe's own state.
"""

from __future__ import annotations

from typing import Any

import pytest
from authorization_matrix import Route
from authorization_matrix import right_caller
from authorization_matrix import routes
from authorization_matrix import wrong_caller
from authorization_matrix import wrong_credentials
from factories import AUDITOR_KEY
from factories import service_token
from flask import Flask

from stripe_gateway import create_app
from stripe_gateway.api.access import PERMISSIONS

AUDIENCE = "stripe-gateway"


def _call(app: Flask, route: Route, authorization: str | None, **environ: str) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return app.test_client().open(
        route.path, method=route.method, json={}, headers=headers, environ_overrides=environ
    )


def _commands(app: Flask) -> list[Route]:
    return [route for route in routes(app) if route.is_command]


class TestEveryRoute:
    def test_every_command_declares_its_permission(self, app: Flask) -> None:
        assert {route.endpoint for route in _commands(app)} == set(PERMISSIONS)

    def test_without_a_credential_every_command_is_401_and_only_commands_need_one(
        self, app: Flask
    ) -> None:
        for route in routes(app):
            response = _call(app, route, None)
            if route.is_command:
                assert response.status_code == 401, route
                assert response.get_json()["error"]["code"] == "unauthorized", route
            else:
                assert response.status_code != 401, route

    def test_each_wrong_credential_is_401_on_every_command(self, app: Flask) -> None:
        forged = wrong_credentials(AUDIENCE, "bc-gateway")
        for route in _commands(app):
            for name, header in forged.items():
                assert _call(app, route, header).status_code == 401, (route, name)

    def test_a_caller_without_a_grant_is_403_on_every_command(self, app: Flask) -> None:
        for route in _commands(app):
            assert _call(app, route, wrong_caller(AUDIENCE)).status_code == 403, route

    def test_the_reconciler_gets_past_the_guard_on_every_command(self, app: Flask) -> None:
        for route in _commands(app):
            response = _call(app, route, right_caller(AUDIENCE))
            assert response.status_code not in (401, 403), (route, response.get_json())


class TestPolicyAndPorts:
    @pytest.fixture
    def env(self, gateway_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MLC_COMMAND_CALLERS", "reconciler=*;auditor=stripe:read")
        monkeypatch.setenv("MLC_COMMAND_PORT", "18090")

    def test_grants_are_per_permission_and_commands_live_on_their_port(self, env: None) -> None:
        app = create_app()
        try:
            auditor = "Bearer " + service_token(AUDIENCE, key=AUDITOR_KEY)
            command = {"SERVER_PORT": "18090"}
            for route in _commands(app):
                status = _call(app, route, auditor, **command).status_code
                if PERMISSIONS[route.endpoint] == "stripe:read":
                    assert status not in (401, 403), route
                else:
                    assert status == 403, route
                hidden = _call(app, route, right_caller(AUDIENCE), SERVER_PORT="18080")
                assert hidden.status_code == 404, route
            webhook = Route("POST", "/webhooks/stripe", "webhooks.stripe_webhook")
            assert _call(app, webhook, None, **command).status_code == 404
            assert _call(app, webhook, None, SERVER_PORT="18080").status_code == 400
        finally:
            app.extensions["stripe_gateway"].publisher.close()
