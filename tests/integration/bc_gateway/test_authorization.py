"""Who may call bc-gateway: the authorization matrix over every route (checklist cases 30, 31).

A refused command must not reach BC at all: the guard answers before the view runs, which the
"nothing was written" test checks against the emulator's own books, not only the status code.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from authorization_matrix import Route
from authorization_matrix import right_caller
from authorization_matrix import routes
from authorization_matrix import wrong_caller
from authorization_matrix import wrong_credentials
from factories import AUDITOR_KEY
from factories import RECONCILER_KEY
from factories import UNPUBLISHED_KEY
from factories import service_token

from bc_gateway import create_app
from bc_gateway.api.access import PERMISSIONS
from mlconnector.identity import TokenIssuer
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.http import GatewayUnavailable

AUDIENCE = "bc-gateway"


@pytest.fixture
def app(deps: Any) -> Any:
    return create_app(deps=deps)


def _call(app: Any, route: Route, authorization: str | None, **environ: str) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return app.test_client().open(
        route.path,
        method=route.method,
        json={},
        headers=headers,
        environ_overrides=environ,
    )


class TestEveryRoute:
    def test_every_command_declares_its_permission(self, app: Any) -> None:
        commands = {r.endpoint for r in routes(app) if r.is_command}
        assert commands == set(PERMISSIONS)

    def test_without_a_credential_every_command_is_401_and_only_commands_need_one(
        self, app: Any
    ) -> None:
        for route in routes(app):
            response = _call(app, route, None)
            if route.is_command:
                assert response.status_code == 401, route
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), route
                assert response.get_json()["error"]["code"] == "unauthorized", route
            else:
                assert response.status_code != 401, route

    def test_unknown_urls_look_the_same_as_commands_to_a_stranger(self, app: Any) -> None:
        assert app.test_client().get("/commands/secrets").status_code == 401
        assert app.test_client().post("/nothing-here").status_code == 401

    def test_each_wrong_credential_is_401_on_every_command(self, app: Any) -> None:
        forged = wrong_credentials(AUDIENCE, "stripe-gateway")
        for route in filter(lambda r: r.is_command, routes(app)):
            for name, header in forged.items():
                response = _call(app, route, header)
                assert response.status_code == 401, (route, name)
                assert "invalid" in response.headers["WWW-Authenticate"], (route, name)

    def test_a_caller_without_a_grant_is_403_on_every_command(self, app: Any) -> None:
        for route in filter(lambda r: r.is_command, routes(app)):
            response = _call(app, route, wrong_caller(AUDIENCE))
            assert response.status_code == 403, route
            assert response.get_json()["error"]["code"] == "forbidden", route

    def test_the_reconciler_gets_past_the_guard_on_every_command(self, app: Any) -> None:
        for route in filter(lambda r: r.is_command, routes(app)):
            response = _call(app, route, right_caller(AUDIENCE))
            assert response.status_code not in (401, 403), (route, response.get_json())

    def test_grants_are_per_permission(self, make_deps: Any) -> None:
        app = create_app(deps=make_deps(MLC_COMMAND_CALLERS="reconciler=*;auditor=bc:read"))
        auditor = "Bearer " + service_token(AUDIENCE, key=AUDITOR_KEY)
        for route in filter(lambda r: r.is_command, routes(app)):
            status = _call(app, route, auditor).status_code
            if PERMISSIONS[route.endpoint] == "bc:read":
                assert status not in (401, 403), route
            else:
                assert status == 403, route


class TestCommandPort:
    def test_commands_answer_only_on_the_command_port_and_webhooks_only_on_the_main_one(
        self, make_deps: Any
    ) -> None:
        app = create_app(deps=make_deps(MLC_COMMAND_PORT="18090"))
        # A query BC is never asked: a 422 proves the view ran, a 404 that the guard hid it.
        read = Route("GET", "/commands/invoices?status=Bogus", "invoices.list_invoices")
        hook = Route("GET", "/webhooks/bc?validationToken=abc", "webhooks.bc_webhook")
        main, command = {"SERVER_PORT": "18080"}, {"SERVER_PORT": "18090"}
        assert _call(app, read, right_caller(AUDIENCE), **main).status_code == 404
        viewed = _call(app, read, right_caller(AUDIENCE), **command)
        assert viewed.status_code == 422, viewed.get_json()
        assert _call(app, read, None, **command).status_code == 401
        assert _call(app, hook, None, **command).status_code == 404
        assert _call(app, hook, None, **main).status_code == 200
        for port in (main, command):
            health = Route("GET", "/healthz", "health.healthz")
            assert _call(app, health, None, **port).status_code == 200


class TestReconcilerAdapter:
    def test_the_reconcilers_calls_carry_its_token_and_a_refused_token_is_retried_later(
        self, live_gateway: Any, company: Any
    ) -> None:
        base = f"http://127.0.0.1:{live_gateway.server.server_port}"
        signed = HttpBcGateway(
            base, authorization=TokenIssuer(RECONCILER_KEY.to_json).authorization
        )
        assert signed.get_customer(company.customer_id)["id"] == company.customer_id
        for authorization in (None, TokenIssuer(UNPUBLISHED_KEY.to_json).authorization):
            stranger = HttpBcGateway(base, authorization=authorization)
            # A transient error: during a key rotation the gateway may not know the key yet.
            with pytest.raises(GatewayUnavailable, match="refused the service token"):
                stranger.get_customer(company.customer_id)


class TestRefusalsAreLogged:
    def test_each_refused_command_is_one_warning_with_its_reason_and_no_token(
        self, app: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        token = service_token(AUDIENCE, key=UNPUBLISHED_KEY)
        caplog.set_level(logging.WARNING)
        response = app.test_client().post(
            "/commands/payments",
            json={},
            headers={"Authorization": f"Bearer {token}", "X-Correlation-Id": "cid-auth-1"},
        )
        assert response.status_code == 401
        lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(lines) == 1, lines
        assert "401" in lines[0]
        assert "unknown key" in lines[0]
        assert "cid-auth-1" in lines[0]
        assert token not in caplog.text
        assert token.split(".")[2] not in caplog.text
