"""``POST /webhooks/stripe``: forgers are cut off, Stripe's backlog never is.

Only refused answers spend the budget, per client address. Stripe signs every delivery, so a
backlog arriving at full speed is never refused and never answered 429; a forger's refusals
(bad signature, malformed body, oversized body) spend its budget and it then gets 429.
"""

from __future__ import annotations

import logging
from typing import Any

import pika
import pytest
from factories import queue_depth

from mlconnector.bus import Topology

pytestmark = pytest.mark.rabbitmq

URL = "/webhooks/stripe"
STRIPE = "54.187.174.169"  # one of Stripe's published webhook source addresses
FORGER = "203.0.113.66"
BUDGET = 30  # the default: 30 refused requests a minute (and 300 an hour) per address


@pytest.fixture
def queue(amqp_url: str, base_env: dict[str, str]) -> str:
    """The gateway's queue, declared up front so a test can count what reached it."""
    topology = Topology.isolated(base_env["MLC_BUS_NAMESPACE"])
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        topology.declare(connection.channel())
    finally:
        connection.close()
    return topology.queue


def deliver(client: Any, kit: Any, address: str, body: bytes, signature: str) -> Any:
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        **kit.from_address(address, **{"Stripe-Signature": signature}),
    )


def forged(client: Any, kit: Any, address: str = FORGER) -> Any:
    body = kit.stripe_event()
    return deliver(client, kit, address, body, kit.sign(body, "whsec_NotTheEndpointSecret0"))


class TestForger:
    def test_300_forged_deliveries_are_answered_429_after_the_budget(
        self, stripe_gateway: Any, kit: Any, amqp_url: str, queue: str
    ) -> None:
        client = stripe_gateway()

        responses = [forged(client, kit) for _ in range(300)]

        statuses = [r.status_code for r in responses]
        assert statuses == [400] * BUDGET + [429] * (300 - BUDGET)
        last = responses[-1]
        assert last.get_json()["error"]["code"] == "rate_limited"
        assert 1 <= int(last.headers["Retry-After"]) <= 61
        assert queue_depth(amqp_url, queue) == 0

    def test_malformed_and_unsigned_requests_spend_the_same_budget(
        self, stripe_gateway: Any, kit: Any
    ) -> None:
        client = stripe_gateway(MLC_RATELIMIT_WEBHOOK_REFUSALS="4/minute")
        no_header = client.post(URL, data=b"{}", **kit.from_address(FORGER))
        not_json = deliver(client, kit, FORGER, b"not json", kit.sign(b"not json"))
        huge = b"x" * (256 * 1024 + 1)
        oversized = deliver(client, kit, FORGER, huge, kit.sign(huge))
        forged_once = forged(client, kit)

        statuses = [r.status_code for r in (no_header, not_json, oversized, forged_once)]
        assert statuses == [400, 400, 413, 400]
        assert forged(client, kit).status_code == 429

    def test_a_blocked_forger_gets_429_without_its_signature_being_checked(
        self, stripe_gateway: Any, kit: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        client = stripe_gateway(MLC_RATELIMIT_WEBHOOK_REFUSALS="3/minute")
        for _ in range(3):
            forged(client, kit)
        caplog.clear()
        caplog.set_level(logging.INFO, logger="mlconnector.ratelimit")

        for _ in range(50):
            assert forged(client, kit).status_code == 429

        messages = [r.getMessage() for r in caplog.records]
        assert not [m for m in messages if "webhook rejected" in m]
        # Each 429 is one WARNING line with its reason and correlation id; the breach itself is
        # summarised once per client and window at INFO.
        refusals = [
            r
            for r in caplog.records
            if r.levelname == "WARNING" and "429 rate_limited" in r.getMessage()
        ]
        assert len(refusals) == 50
        assert all("rate limit webhook-refusals" in r.getMessage() for r in refusals)
        assert all("correlation id -" not in r.getMessage() for r in refusals)
        summaries = [
            r for r in caplog.records if r.levelname == "INFO" and "answering 429" in r.getMessage()
        ]
        assert len(summaries) == 1
        assert FORGER in summaries[0].getMessage()


class TestStripeBacklog:
    def test_2000_validly_signed_deliveries_at_full_speed_are_never_429(
        self,
        stripe_gateway: Any,
        kit: Any,
        redis_store: dict[str, str],
        amqp_url: str,
        queue: str,
    ) -> None:
        """Stripe retrying a backlog, through the Redis store production uses, while a forger
        is being cut off and Stripe's own address has already had a few refusals."""
        client = stripe_gateway(**redis_store)
        for _ in range(BUDGET - 1):  # e.g. deliveries signed before a secret rotation
            assert forged(client, kit, STRIPE).status_code == 400
        for _ in range(BUDGET + 5):
            forged(client, kit)
        assert forged(client, kit).status_code == 429

        statuses: dict[int, int] = {}
        for _ in range(2000):
            body = kit.stripe_event()
            status = deliver(client, kit, STRIPE, body, kit.sign(body)).status_code
            statuses[status] = statuses.get(status, 0) + 1

        assert statuses == {200: 2000}
        assert queue_depth(amqp_url, queue) == 2000
        assert forged(client, kit).status_code == 429
