"""``GET /commands/connection``: the Connections page's Stripe report, over real HTTP.

The gateway is built as in production (``create_app()`` from ``MLC_*`` variables and the secrets
file), served by werkzeug on 127.0.0.1 and asked through the reconciler's own adapter with the
reconciler's service token. Every answer is a 200 whose checks say what is wrong; none carries
the API key (only its prefix, and the last four characters of a key Stripe accepts) or the
webhook signing secret.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from factories import AUDITOR_KEY
from factories import RECONCILER_KEY
from factories import SERVICE_SECRETS
from factories import join_threads_named
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from mlconnector.identity import TokenIssuer
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.adapters.http import GatewayRejected
from stripe_emulator.server import EmulatorServer
from stripe_gateway import create_app
from stripe_gateway.events import HANDLED_EVENTS
from stripe_gateway.ping import READ_PROBES

pytestmark = pytest.mark.rabbitmq

STRIPE = SERVICE_SECRETS["ml-connector/stripe"]
OURS = "http://127.0.0.1:9/webhooks/stripe"  # never called: the tests trigger no event
RESTRICTED = "rk_test_51RestrictedKeyForTheConnectionReport"


@pytest.fixture
def serve(gateway_env: dict[str, str]) -> Iterator[Callable[..., HttpStripeGateway]]:
    """Build the gateway now (after the test set its key and the emulator up) and serve it."""
    running: list[tuple[Flask, BaseWSGIServer, threading.Thread]] = []

    def _serve(key: Any = RECONCILER_KEY) -> HttpStripeGateway:
        app = create_app()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        running.append((app, server, thread))
        base = f"http://127.0.0.1:{server.server_port}"
        return HttpStripeGateway(base, authorization=TokenIssuer(key.to_json).authorization)

    yield _serve
    for app, server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        app.extensions["stripe_gateway"].publisher.close()
    # A check past its deadline still waits for Stripe: let it end before the next test measures.
    assert join_threads_named("connection-check") == []


@pytest.fixture
def sdk(emu: EmulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient(STRIPE["api_key"], base_addresses={"api": emu.base_url})


def endpoint(
    sdk: stripe.StripeClient, url: str, events: list[str], description: str | None = None
) -> str:
    params: dict[str, Any] = {"url": url, "enabled_events": events}
    if description:
        params["description"] = description
    return sdk.v1.webhook_endpoints.create(params=params).id  # type: ignore[arg-type]


def assert_no_secret(report: dict[str, Any], *keys: str) -> None:
    text = json.dumps(report, default=str)  # the adapter reads numbers as Decimal
    for secret in (*keys, STRIPE["api_key"], STRIPE["webhook_secret"]):
        assert secret not in text


class TestHealthy:
    def test_every_check_passes_with_its_facts(
        self, serve: Callable[..., HttpStripeGateway], sdk: stripe.StripeClient
    ) -> None:
        ours = endpoint(sdk, OURS, list(HANDLED_EVENTS), "ml-connector stripe-gateway")
        foreign = endpoint(sdk, "http://127.0.0.1:9/hooks/crm", ["customer.created"])

        started = time.monotonic()
        report = serve().connection()
        assert time.monotonic() - started < 8

        checks = report["checks"]
        assert report["ok"] is True, checks
        assert list(checks) == ["key", "account", "webhooks", "permissions"]
        assert all(c["ok"] and not c["skipped"] for c in checks.values())
        key = checks["key"]
        assert (key["mode"], key["type"], key["masked"]) == ("test", "secret", "sk_test_…Only")
        assert checks["account"]["id"] == "acct_emulator"
        assert checks["account"]["charges_enabled"] is True
        hooks = {e["id"]: e for e in checks["webhooks"]["endpoints"]}
        assert hooks[ours]["ours"] is True
        assert hooks[ours]["missing_events"] == []
        assert hooks[foreign]["ours"] is False
        assert checks["webhooks"]["missing"] == []
        assert checks["webhooks"]["handled_events"] == list(HANDLED_EVENTS)
        rows = checks["permissions"]["resources"]
        assert [r["resource"] for r in rows] == list(READ_PROBES)
        assert {r["status"] for r in rows} == {200}
        assert_no_secret(report)

    def test_only_the_reconciler_may_ask(
        self,
        serve: Callable[..., HttpStripeGateway],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # An auditor trusted to read Stripe objects is not thereby trusted with the set-up.
        monkeypatch.setenv("MLC_COMMAND_CALLERS", "reconciler=*;auditor=stripe:read")
        with pytest.raises(GatewayRejected) as refused:
            serve(AUDITOR_KEY).connection()
        assert refused.value.code == "forbidden"


class TestWebhookEndpoints:
    def test_no_endpoint_of_ours_says_how_to_register_one(
        self, serve: Callable[..., HttpStripeGateway], sdk: stripe.StripeClient
    ) -> None:
        endpoint(sdk, "http://127.0.0.1:9/hooks/crm", ["customer.created"])

        report = serve().connection()

        hooks = report["checks"]["webhooks"]
        assert report["ok"] is False
        assert hooks["ok"] is False
        assert "stripe-gateway register-webhook --url" in hooks["detail"]
        assert hooks["missing"] == list(HANDLED_EVENTS)
        assert [e["ours"] for e in hooks["endpoints"]] == [False]
        assert report["checks"]["permissions"]["ok"] is True  # the others still ran

    def test_an_endpoint_that_misses_handled_events_names_them(
        self, serve: Callable[..., HttpStripeGateway], sdk: stripe.StripeClient
    ) -> None:
        ours = endpoint(sdk, OURS, ["invoice.paid", "charge.succeeded"])

        hooks = serve().connection()["checks"]["webhooks"]

        assert hooks["ok"] is False
        expected = [e for e in HANDLED_EVENTS if e not in ("invoice.paid", "charge.succeeded")]
        assert hooks["missing"] == expected
        [row] = hooks["endpoints"]
        assert (row["id"], row["ours"], row["missing_events"]) == (ours, True, expected)
        assert "charge.refunded" in hooks["detail"]


class TestKeys:
    def test_a_revoked_key_fails_the_key_and_skips_the_rest(
        self, serve: Callable[..., HttpStripeGateway], emu: EmulatorServer
    ) -> None:
        emu.configure(revoked_keys=[STRIPE["api_key"]])

        report = serve().connection()

        checks = report["checks"]
        assert checks["key"]["ok"] is False
        assert "revoked or expired" in checks["key"]["detail"]
        assert checks["key"]["masked"] == "sk_test_…"  # a refused key is not even half shown
        for name in ("account", "webhooks", "permissions"):
            assert checks[name]["skipped"] is True, name
            assert "Stripe rejected the key" in checks[name]["detail"]
        assert_no_secret(report)

    def test_a_restricted_key_without_permissions_names_what_it_may_not_read(
        self,
        serve: Callable[..., HttpStripeGateway],
        emu: EmulatorServer,
        secret_store: EncryptedFileSecrets,
        sdk: stripe.StripeClient,
    ) -> None:
        endpoint(sdk, OURS, list(HANDLED_EVENTS))
        secret_store.write("ml-connector/stripe", {**STRIPE, "api_key": RESTRICTED})
        allowed = ["customers", "invoices", "balance:read", "webhook_endpoints:read"]
        emu.configure(restricted_keys={RESTRICTED: allowed})

        report = serve().connection()

        checks = report["checks"]
        key = checks["key"]
        assert (key["ok"], key["type"], key["masked"]) == (True, "restricted", "rk_test_…port")
        assert checks["account"]["ok"] is False
        assert "may not read the account" in checks["account"]["detail"]
        assert checks["webhooks"]["ok"] is True
        refused = [r for r in checks["permissions"]["resources"] if not r["ok"]]
        assert [r["resource"] for r in refused] == [
            "invoice_payments",
            "charges",
            "refunds",
            "payouts",
            "balance_transactions",
            "events",
        ]
        assert {r["status"] for r in refused} == {403}
        assert "cannot read invoice_payments (403)" in checks["permissions"]["detail"]
        assert_no_secret(report, RESTRICTED)

    def test_a_publishable_key_is_refused_before_stripe_is_asked(
        self,
        serve: Callable[..., HttpStripeGateway],
        emu: EmulatorServer,
        secret_store: EncryptedFileSecrets,
    ) -> None:
        publishable = "pk_test_51PublishableKeyPastedByMistake0000"
        secret_store.write("ml-connector/stripe", {**STRIPE, "api_key": publishable})
        emu.clear_requests()

        checks = serve().connection()["checks"]

        assert checks["key"]["ok"] is False
        assert "publishable" in checks["key"]["detail"]
        assert checks["account"]["skipped"] is True
        assert emu.requests(path="/v1/account") == []


class TestSlowOrUnreachable:
    def test_stripe_answering_late_is_reported_within_the_time_asked(
        self, serve: Callable[..., HttpStripeGateway], emu: EmulatorServer
    ) -> None:
        gateway = serve()
        emu.configure(latency_ms=2500)

        started = time.monotonic()
        report = gateway.connection(timeout_s=1)
        elapsed = time.monotonic() - started

        assert elapsed < 2.5
        checks = report["checks"]
        assert checks["key"]["ok"] is False
        assert checks["key"]["detail"] == "Stripe did not answer within 1 s"
        assert checks["key"]["type"] == "secret"
        assert all(checks[n]["skipped"] for n in ("account", "webhooks", "permissions"))

    def test_stripe_unreachable(
        self, serve: Callable[..., HttpStripeGateway], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        monkeypatch.setenv("MLC_STRIPE_API_BASE", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("MLC_STRIPE_MAX_NETWORK_RETRIES", "0")

        checks = serve().connection()["checks"]

        assert checks["key"]["ok"] is False
        assert "cannot reach Stripe (connection_failed" in checks["key"]["detail"]
        assert checks["account"]["detail"] == "not checked: Stripe could not be reached"
