"""The Redis store: one budget across app instances, and failing open when Redis is away.

Production runs several gunicorn workers per pod and several pods; with ``memory://`` each
would count alone and an attacker would get the budget once per process. With Redis they share
it. If Redis cannot be reached, the limiter keeps counting in each process and logs a WARNING,
and never answers 5xx: the webhooks must stay up.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mlc_local.processes import free_port

pytestmark = pytest.mark.rabbitmq

ATTACKER = "203.0.113.7"
WRONG = "Bearer not-the-replay-token-0000"


def wrong_token(client: Any, kit: Any) -> int:
    status: int = client.get(
        "/records", **kit.from_address(ATTACKER, Authorization=WRONG)
    ).status_code
    return status


def forged(client: Any, kit: Any, address: str = ATTACKER) -> int:
    body = kit.stripe_event()
    signature = kit.sign(body, "whsec_NotTheEndpointSecret0")
    status: int = client.post(
        "/webhooks/stripe",
        data=body,
        content_type="application/json",
        **kit.from_address(address, **{"Stripe-Signature": signature}),
    ).status_code
    return status


class TestOneBudgetAcrossInstances:
    def test_two_reconciler_apis_share_the_failed_authentication_budget(
        self, reconciler_api: Any, kit: Any, redis_store: dict[str, str]
    ) -> None:
        first, second = reconciler_api(**redis_store), reconciler_api(**redis_store)

        statuses = [wrong_token(first if n % 2 else second, kit) for n in range(12)]

        assert statuses == [401] * 10 + [429] * 2
        assert wrong_token(first, kit) == 429
        assert wrong_token(second, kit) == 429

    def test_two_stripe_gateways_share_the_refusal_budget(
        self, stripe_gateway: Any, kit: Any, redis_store: dict[str, str]
    ) -> None:
        first, second = stripe_gateway(**redis_store), stripe_gateway(**redis_store)

        statuses = [forged(first if n % 2 else second, kit) for n in range(34)]

        assert statuses == [400] * 30 + [429] * 4

    def test_another_key_prefix_is_another_budget(
        self, reconciler_api: Any, kit: Any, redis_store: dict[str, str]
    ) -> None:
        blocked = reconciler_api(**redis_store)
        for _ in range(11):
            wrong_token(blocked, kit)
        elsewhere = reconciler_api(
            **{
                **redis_store,
                "MLC_RATELIMIT_KEY_PREFIX": redis_store["MLC_RATELIMIT_KEY_PREFIX"] + "-b",
            }
        )

        assert wrong_token(blocked, kit) == 429
        assert wrong_token(elsewhere, kit) == 401


class TestStoreUnreachable:
    def test_webhooks_stay_up_and_refusals_are_still_limited_per_process(
        self, stripe_gateway: Any, kit: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING)
        client = stripe_gateway(MLC_RATELIMIT_STORAGE=f"redis://127.0.0.1:{free_port()}/0")

        body = kit.stripe_event()
        valid = client.post(
            "/webhooks/stripe",
            data=body,
            content_type="application/json",
            **kit.from_address("54.187.174.169", **{"Stripe-Signature": kit.sign(body)}),
        )
        statuses = [forged(client, kit) for _ in range(35)]

        assert valid.status_code == 200
        assert statuses == [400] * 30 + [429] * 5
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("storage unreachable" in r.getMessage() for r in warnings)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
