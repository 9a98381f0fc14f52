"""The gateways' ``/metrics`` moves when webhooks arrive and when BC or Stripe is called.

Real apps on the emulators and the real broker: a forged webhook is refused and counted with its
reason, a genuine one is queued and counted as accepted, every call to BC or Stripe is one
observation of the latency histogram with its status class, a 429 from the emulator counts as
throttling, and BC's own list of subscriptions gives their expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from factories import SERVICE_SECRETS
from factories import authorized
from factories import wait_until
from metrics_support import count
from metrics_support import sample
from metrics_support import scrape_client

from bc_gateway import create_app as create_bc_app
from bc_gateway.subscription_metrics import SubscriptionExpiry
from bc_gateway.subscriptions import renew_subscriptions

pytestmark = pytest.mark.rabbitmq

STRIPE = SERVICE_SECRETS["ml-connector/stripe"]
STRIPE_SECRET = STRIPE["webhook_secret"]
BC_STATE = SERVICE_SECRETS["ml-connector/bc"]["client_state"]
DURATION = "mlc_api_request_duration_seconds_count"


def stripe_event() -> bytes:
    event = {
        "id": f"evt_metrics{time.time_ns()}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": {"id": f"in_m{time.time_ns()}", "object": "invoice", "total": 100}},
        "livemode": False,
        "type": "invoice.paid",
    }
    return json.dumps(event).encode()


def signed(payload: bytes, secret: str = STRIPE_SECRET) -> dict[str, str]:
    now = int(time.time())
    mac = hmac.new(secret.encode(), f"{now}.".encode() + payload, hashlib.sha256)
    return {"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={mac.hexdigest()}"}


class Delta:
    """Scrapes before and after; ``delta(name, **labels)`` is how much a series moved."""

    def __init__(self, client: Any, **kwargs: Any) -> None:
        self.client, self.kwargs = client, kwargs
        self.before = scrape_client(client, **kwargs)
        self.after = self.before

    def again(self) -> str:
        self.after = scrape_client(self.client, **self.kwargs)
        return self.after

    def __call__(self, name: str, **labels: str) -> float:
        return count(self.after, name, **labels) - count(self.before, name, **labels)


class TestStripeGateway:
    def test_a_forged_webhook_counts_as_refused_for_its_signature(
        self, make_stripe_app: Callable[..., Any]
    ) -> None:
        client = make_stripe_app().test_client()
        delta = Delta(client)
        payload = stripe_event()
        response = client.post("/webhooks/stripe", data=payload, headers=signed(payload, "wrong"))
        assert response.status_code == 400
        delta.again()
        assert delta("mlc_webhooks_refused_total", source="stripe", reason="signature") == 1
        assert delta("mlc_webhooks_accepted_total", source="stripe") == 0

    def test_a_genuine_webhook_counts_as_accepted_once_queued(
        self, make_stripe_app: Callable[..., Any]
    ) -> None:
        client = make_stripe_app().test_client()
        delta = Delta(client)
        payload = stripe_event()
        response = client.post("/webhooks/stripe", data=payload, headers=signed(payload))
        assert response.status_code == 200, response.get_json()
        after = delta.again()
        assert delta("mlc_webhooks_accepted_total", source="stripe") == 1
        assert delta("mlc_webhooks_refused_total", source="stripe", reason="signature") == 0
        stamp = sample(after, "mlc_webhook_last_accepted_timestamp_seconds", source="stripe")
        assert stamp is not None
        assert time.time() - stamp < 30

    def test_stripe_calls_and_a_429_show_in_the_histogram(
        self, make_stripe_app: Callable[..., Any], emu: Any
    ) -> None:
        app = make_stripe_app()
        sdk = stripe.StripeClient(STRIPE["api_key"], base_addresses={"api": emu.base_url})
        customer = sdk.v1.customers.create(params={"name": "Fabrikam"}).id
        delta = Delta(app.test_client())
        emu.inject_fault(kind="rate_limit", status=429, count=1, method="GET", stage="edge")

        found = app.extensions["stripe_gateway"].stripe.retrieve_customer(customer)

        assert found.id == customer
        delta.again()
        assert delta(DURATION, system="stripe", operation="read", status="429") == 1
        assert delta(DURATION, system="stripe", operation="read", status="2xx") == 1
        assert delta("mlc_api_throttled_total", system="stripe") == 1

    def test_metrics_answer_on_the_command_port_only_and_need_no_token(
        self, make_stripe_app: Callable[..., Any]
    ) -> None:
        client = make_stripe_app(MLC_COMMAND_PORT="8090").test_client()
        on_webhook_port = client.get("/metrics", environ_overrides={"SERVER_PORT": "8080"})
        on_command_port = client.get("/metrics", environ_overrides={"SERVER_PORT": "8090"})
        assert on_webhook_port.status_code == 404
        assert on_command_port.status_code == 200
        assert "mlc_webhooks_accepted_total" in on_command_port.get_data(as_text=True)


def notification(company_id: str, state: str = BC_STATE) -> bytes:
    element = {
        "subscriptionId": "c670ea73cacb459bb51dc1740da2f1db",
        "clientState": state,
        "expirationDateTime": "2026-11-27T12:50:30Z",
        "resource": f"api/v2.0/companies({company_id})/salesInvoices"
        f"({'130bbd17-dbb9-4790-9b12-' + format(time.time_ns() % 10**12, '012d')})",
        "changeType": "updated",
        "lastModifiedDateTime": "2026-11-24T12:54:26.057Z",
    }
    return json.dumps({"value": [element]}).encode()


class TestBcGateway:
    def test_a_wrong_client_state_counts_as_refused_and_a_right_one_as_accepted(
        self, make_bc_deps: Callable[..., Any], bc_admin: Any
    ) -> None:
        client = create_bc_app(deps=make_bc_deps()).test_client()
        delta = Delta(client)
        forged = client.post("/webhooks/bc", data=notification(bc_admin.company_id, "forged"))
        genuine = client.post("/webhooks/bc", data=notification(bc_admin.company_id))
        handshake = client.post("/webhooks/bc?validationToken=abc")
        assert (forged.status_code, genuine.status_code, handshake.status_code) == (401, 202, 200)
        delta.again()
        assert delta("mlc_webhooks_refused_total", source="bc", reason="client_state") == 1
        assert delta("mlc_webhooks_accepted_total", source="bc") == 2

    def test_bc_calls_and_a_429_show_in_the_histogram(
        self, make_bc_deps: Callable[..., Any], bc_admin: Any
    ) -> None:
        deps = make_bc_deps()
        client = create_bc_app(deps=deps).test_client()
        delta = Delta(client)
        bc_admin.fault(status=429, count=1, retryAfter=0)

        assert deps.bc.get(f"companies({bc_admin.company_id})")["id"] == bc_admin.company_id

        delta.again()
        assert delta(DURATION, system="bc", operation="read", status="429") == 1
        assert delta(DURATION, system="bc", operation="read", status="2xx") == 1
        assert delta("mlc_api_throttled_total", system="bc") == 1

    def test_a_5xx_from_bc_counts_as_a_server_error(
        self, make_bc_deps: Callable[..., Any], bc_admin: Any
    ) -> None:
        deps = make_bc_deps()
        client = authorized(create_bc_app(deps=deps).test_client(), "bc-gateway")
        delta = Delta(client)
        bc_admin.fault(status=503, count=1, retryAfter=0)
        deps.bc.get(f"companies({bc_admin.company_id})")
        delta.again()
        assert delta("mlc_api_server_errors_total", system="bc") == 1

    def test_the_subscription_expiry_comes_from_bc(
        self,
        make_bc_deps: Callable[..., Any],
        bc_admin: Any,
        serve: Callable[..., Any],
        port: int,
    ) -> None:
        url = f"http://127.0.0.1:{port}/webhooks/bc"
        deps = make_bc_deps(MLC_BC_NOTIFICATION_URL=url)
        app = create_bc_app(deps=deps)
        serve(app, port)  # BC's validation handshake calls it
        outcomes, _now = renew_subscriptions(
            deps.bc,
            notification_url=url,
            client_state=BC_STATE,
            margin=dt.timedelta(hours=24),
            entities=("salesInvoices",),
        )
        (created,) = outcomes
        assert created.action == "created"
        assert created.expires is not None
        client = app.test_client()

        def expiry() -> float | None:
            body = scrape_client(client)
            return sample(
                body, "mlc_bc_subscription_expiry_timestamp_seconds", entity="salesInvoices"
            )

        # The first scrape starts the refresh in the background; a later one has the answer.
        assert wait_until(lambda: expiry() is not None, timeout_s=10)
        assert expiry() == created.expires.timestamp()
        body = scrape_client(client)
        assert sample(body, "mlc_bc_subscriptions", entity="salesInvoices") == 1
        assert sample(body, "mlc_bc_subscriptions", entity="customers") == 0
        assert (
            sample(body, "mlc_bc_subscription_expiry_timestamp_seconds", entity="customers") is None
        )
        assert sample(body, "mlc_scrape_error", collector="bc_subscriptions") == 0

        # BC deletes it (as after a 4xx to a notification): the count drops to 0.
        fresh = SubscriptionExpiry(deps.bc, url, ttl_s=0)
        sub = deps.bc.get(f"subscriptions('{created.subscription_id}')")
        deps.bc.delete(f"subscriptions('{created.subscription_id}')", sub["@odata.etag"])

        def counted() -> float | None:
            families, ok = fresh.snapshot()
            values = {
                s.labels["entity"]: s.value
                for family in families
                if family.name == "mlc_bc_subscriptions"
                for s in family.samples
            }
            return values.get("salesInvoices") if ok else None

        assert wait_until(lambda: counted() == 0, timeout_s=10)

    def test_an_unreachable_bc_is_a_scrape_error_not_a_failed_scrape(
        self, make_bc_deps: Callable[..., Any], bc_admin: Any
    ) -> None:
        deps = make_bc_deps(
            MLC_BC_NOTIFICATION_URL="http://127.0.0.1:9/webhooks/bc",
            MLC_BC_API_BASE="https://127.0.0.1:9",
            MLC_BC_MAX_ATTEMPTS="1",
        )
        client = create_bc_app(deps=deps).test_client()

        def failed() -> bool:
            body = scrape_client(client)
            return sample(body, "mlc_scrape_error", collector="bc_subscriptions") == 1

        assert wait_until(failed, timeout_s=15)
