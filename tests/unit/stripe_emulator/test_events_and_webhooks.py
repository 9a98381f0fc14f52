"""Events API and signed webhook delivery, verified with the SDK's own verifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from factories import wait_until

from stripe_emulator.server import EmulatorServer

N = type(None)
Shape = dict[str, tuple[type, ...]]
CheckShape = Callable[[object, type, Shape], dict[str, Any]]
EVENT: Shape = {
    "id": (str,), "object": (str,), "type": (str,), "created": (int,), "api_version": (str,),
    "data": (dict,), "livemode": (bool,), "pending_webhooks": (int,), "request": (dict,),
    "account": (str, N), "context": (str, N),
}  # fmt: skip
ENDPOINT: Shape = {
    "id": (str,), "object": (str,), "secret": (str,), "status": (str,), "api_version": (str, N),
    "enabled_events": (list,), "url": (str,), "created": (int,), "metadata": (dict,),
}  # fmt: skip


def endpoint(client: stripe.StripeClient, url: str, events: list[str]) -> stripe.WebhookEndpoint:
    return client.v1.webhook_endpoints.create(
        params={"url": url, "enabled_events": events, "api_version": "2026-10-28.endive"}  # type: ignore[typeddict-item]
    )


def signatures(header: str) -> list[str]:
    return [part[3:] for part in header.split(",") if part.startswith("v1=")]


def timestamp(header: str) -> int:
    return int(header.split(",")[0][2:])


class TestEventsApi:
    def test_events_shape_wildcards_types_and_created(
        self, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        customer = client.v1.customers.create(
            params={"email": "e@example.com"}, options={"idempotency_key": "evt-test-1"}
        )
        invoice = client.v1.invoices.create(params={"customer": customer.id})
        client.v1.customers.update(customer.id, params={"name": "New Name"})
        events = client.v1.events.list()
        assert all(e.id.startswith("evt_") for e in events.data)
        created = next(e for e in events.data if e.type == "customer.created")
        assert_shape(created, stripe.Event, EVENT)
        assert created.api_version == "2026-10-28.endive"
        assert created.data.object["id"] == customer.id
        assert created.request is not None
        assert customer.last_response is not None
        assert created.request.id == customer.last_response.headers["Request-Id"]
        assert created.request.idempotency_key == "evt-test-1"
        updated = client.v1.events.list(params={"type": "customer.updated"}).data[0]
        assert updated.data.previous_attributes is not None
        assert updated.data.previous_attributes["name"] is None
        wildcard = client.v1.events.list(params={"type": "invoice.*"})
        assert [e.type for e in wildcard.data] == ["invoice.created"]
        assert wildcard.data[0].data.object["id"] == invoice.id
        several = client.v1.events.list(params={"types": ["customer.created", "invoice.created"]})
        assert {e.type for e in several.data} == {"customer.created", "invoice.created"}
        future = client.v1.events.list(params={"created": {"gte": created.created + 10}})
        assert future.data == []

    def test_events_are_kept_thirty_days(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        client.v1.customers.create()
        event = client.v1.events.list().data[0]
        emu.advance_clock(29 * 86400)
        assert client.v1.events.retrieve(event.id).id == event.id
        emu.advance_clock(2 * 86400)
        assert client.v1.events.list().data == []
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.events.retrieve(event.id)


class TestWebhookEndpoints:
    def test_secret_is_returned_only_at_creation(
        self, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        created = endpoint(client, "http://127.0.0.1:9/hook", ["invoice.paid"])
        assert_shape(created, stripe.WebhookEndpoint, ENDPOINT)
        assert created.secret is not None
        assert created.secret.startswith("whsec_")
        fetched = client.v1.webhook_endpoints.retrieve(created.id)
        assert "secret" not in fetched.to_dict()
        assert [e.id for e in client.v1.webhook_endpoints.list().data] == [created.id]
        updated = client.v1.webhook_endpoints.update(created.id, params={"disabled": True})
        assert updated.status == "disabled"
        params: Any = {"api_version": "2025-03-31.basil"}  # not updatable: not in the SDK
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.webhook_endpoints.update(created.id, params=params)
        assert caught.value.code == "parameter_unknown"
        assert client.v1.webhook_endpoints.delete(created.id).deleted is True


class TestDelivery:
    def test_delivery_verifies_with_construct_event_and_respects_enabled_events(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        hook = endpoint(client, receiver.url, ["customer.created"])
        customer = client.v1.customers.create(params={"email": "hook@example.com"})
        client.v1.invoices.create(params={"customer": customer.id})
        [post] = receiver.wait_for(1)
        assert hook.secret is not None
        event = stripe.Webhook.construct_event(
            post.body, post.headers["Stripe-Signature"], hook.secret
        )
        assert isinstance(event, stripe.Event)
        assert (event.type, event.data.object["id"]) == ("customer.created", customer.id)
        assert event.api_version == "2026-10-28.endive"
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                post.body, post.headers["Stripe-Signature"], "whsec_wrong"
            )
        emu.flush_deliveries()
        assert len(receiver.received) == 1  # invoice.created is not enabled on this endpoint
        delivered = client.v1.events.list(
            params={"delivery_success": True, "type": "customer.created"}
        )
        assert [e.id for e in delivered.data] == [event.id]

    def test_non_2xx_is_retried_with_a_fresh_signature(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        emu.configure(retry_delays=[1.1, 0.05], time_scale=1.0)
        receiver.statuses = [500, 503]
        hook = endpoint(client, receiver.url, ["*"])
        client.v1.customers.create()
        event_id = client.v1.events.list().data[0].id
        first = receiver.wait_for(1)[0]
        assert len(client.v1.events.list(params={"delivery_success": False}).data) == 1
        posts = receiver.wait_for(3)
        assert hook.secret is not None
        for post in posts:
            verified = stripe.Webhook.construct_event(
                post.body, post.headers["Stripe-Signature"], hook.secret
            )
            assert verified.id == event_id
        assert timestamp(posts[1].headers["Stripe-Signature"]) > timestamp(
            first.headers["Stripe-Signature"]
        )
        assert posts[0].body == posts[2].body
        # The receiver records a post before it answers: give the sender time to note the 200.
        assert wait_until(lambda: emu.deliveries(event=event_id)[0]["status"] == "succeeded")
        [delivery] = emu.deliveries(event=event_id)
        assert [a["response_status"] for a in delivery["attempts"]] == [500, 503, 200]
        assert client.v1.events.retrieve(event_id).pending_webhooks == 0

    def test_receiver_timeout_is_retried(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        emu.configure(delivery_timeout=0.2, retry_delays=[0.05], time_scale=1.0)
        receiver.delays = [0.6]
        endpoint(client, receiver.url, ["customer.created"])
        client.v1.customers.create()
        receiver.wait_for(2)
        emu.flush_deliveries()
        assert wait_until(lambda: emu.deliveries()[0]["status"] == "succeeded")
        [delivery] = emu.deliveries()
        assert delivery["attempts"][0]["error"] == "ReadTimeout"
        assert delivery["attempts"][1]["response_status"] == 200

    def test_duplicate_and_shuffle_knobs(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        emu.configure(paused=True, shuffle=True, duplicate_rate=1.0, seed=7)
        endpoint(client, receiver.url, ["customer.created"])
        for i in range(6):
            client.v1.customers.create(params={"name": f"c{i}"})
        creation_order = [e.id for e in client.v1.events.list().data][::-1]
        assert receiver.received == []
        emu.flush_deliveries()
        delivered = [json.loads(p.body)["id"] for p in receiver.wait_for(12)]
        assert sorted(delivered) == sorted(creation_order * 2)
        first_seen = list(dict.fromkeys(delivered))
        assert first_seen != creation_order

    def test_dropped_delivery_stays_pending_for_recovery(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        emu.configure(drop_rate=1.0)
        endpoint(client, receiver.url, ["*"])
        client.v1.customers.create()
        emu.flush_deliveries()
        assert receiver.received == []
        missed = client.v1.events.list(params={"delivery_success": False})
        assert [e.type for e in missed.data] == ["customer.created"]
        assert missed.data[0].pending_webhooks == 1

    def test_secret_roll_signs_with_both_secrets_during_overlap(
        self, emu: EmulatorServer, client: stripe.StripeClient, receiver: Any
    ) -> None:
        hook = endpoint(client, receiver.url, ["customer.created"])
        assert hook.secret is not None
        new_secret = emu.roll_secret(hook.id, expires_in=3600)
        client.v1.customers.create()
        [post] = receiver.wait_for(1)
        header = post.headers["Stripe-Signature"]
        assert len(signatures(header)) == 2
        for secret in (hook.secret, new_secret):
            assert (
                stripe.Webhook.construct_event(post.body, header, secret).type == "customer.created"
            )
        emu.advance_clock(3601)
        client.v1.customers.create()
        later = receiver.wait_for(2)[1]
        assert len(signatures(later.headers["Stripe-Signature"])) == 1
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                later.body, later.headers["Stripe-Signature"], hook.secret
            )
