"""The Stripe connection report's pure parts: the masked key, and judging webhook endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_gateway.connection import GATEWAY_DESCRIPTION
from stripe_gateway.connection import is_ours
from stripe_gateway.connection import masked_key
from stripe_gateway.connection import unsent_events
from stripe_gateway.connection import webhooks_verdict
from stripe_gateway.events import HANDLED_EVENTS

KEY = "sk_test_51TestKeyForTheEmulatorOnly"


def hook(
    events: list[str] | None = None, *, ours: bool = True, status: str = "enabled", n: int = 1
) -> dict[str, Any]:
    return {
        "id": f"we_{n}",
        "url": f"https://connector.example/webhooks/stripe?n={n}" if ours else "https://crm/x",
        "status": status,
        "enabled_events": list(HANDLED_EVENTS) if events is None else events,
        "ours": ours,
    }


class TestMaskedKey:
    @pytest.mark.parametrize(
        ("key", "last_four", "shown"),
        [
            (KEY, True, "sk_test_…Only"),
            (KEY, False, "sk_test_…"),
            ("rk_live_" + "a" * 30 + "WXYZ", True, "rk_live_…WXYZ"),
            ("sk_test_abc1", True, "sk_test_…"),  # a stub: four characters would be most of it
            ("sk_test_", True, "sk_test_…"),
            ("not-a-key-at-all-but-long-enough", True, "…"),
        ],
    )
    def test_at_most_the_prefix_and_the_last_four(
        self, key: str, last_four: bool, shown: str
    ) -> None:
        assert masked_key(key, last_four=last_four) == shown


class TestOurs:
    @pytest.mark.parametrize(
        ("url", "description", "ours"),
        [
            ("https://connector.example/webhooks/stripe", None, True),
            ("https://connector.example/webhooks/stripe/", "", True),
            ("https://hooks.example/anything", GATEWAY_DESCRIPTION, True),
            ("https://crm.example/stripe", "CRM sync", False),
            ("https://[::1/webhooks/stripe", None, False),
        ],
    )
    def test_by_description_or_webhook_path(
        self, url: str, description: str | None, ours: bool
    ) -> None:
        assert is_ours(url, description) is ours


class TestVerdict:
    def test_one_enabled_endpoint_sending_everything(self) -> None:
        endpoints = [hook(), hook(["customer.created"], ours=False, n=2)]
        assert unsent_events(endpoints) == []
        ok, detail = webhooks_verdict(endpoints)
        assert ok
        assert (
            detail
            == "Stripe sends every handled event to https://connector.example/webhooks/stripe?n=1"
        )

    def test_events_may_be_split_across_our_endpoints_or_be_a_wildcard(self) -> None:
        half = len(HANDLED_EVENTS) // 2
        split = [hook(list(HANDLED_EVENTS[:half])), hook(list(HANDLED_EVENTS[half:]), n=2)]
        assert webhooks_verdict(split)[0]
        assert webhooks_verdict([hook(["*"])])[0]

    def test_no_endpoint_of_ours(self) -> None:
        ok, detail = webhooks_verdict([hook(ours=False)])
        assert not ok
        assert "register-webhook --url https://<public host>/webhooks/stripe" in detail

    def test_a_disabled_endpoint_sends_nothing(self) -> None:
        endpoints = [hook(status="disabled")]
        assert unsent_events(endpoints) == list(HANDLED_EVENTS)
        ok, detail = webhooks_verdict(endpoints)
        assert not ok
        assert "we_1 is disabled" in detail

    def test_missing_events_are_named_in_the_gateways_order(self) -> None:
        ok, detail = webhooks_verdict([hook(["customer.updated", "invoice.paid"])])
        assert not ok
        assert detail.startswith("no endpoint of ours sends charge.succeeded, charge.refunded")
        assert "customer.updated" not in detail

    def test_two_enabled_endpoints_for_one_url_deliver_twice(self) -> None:
        twice = [hook(), {**hook(n=2), "url": hook()["url"]}]
        ok, detail = webhooks_verdict(twice)
        assert ok
        assert "each event arrives more than once" in detail
