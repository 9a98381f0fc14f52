"""Settings, the declared event types, and the poll window split."""

from __future__ import annotations

import pytest

from mlconnector.config import ConfigError
from stripe_gateway.events import HANDLED_EVENTS
from stripe_gateway.events import KNOWN_EVENTS
from stripe_gateway.events import check_event_types
from stripe_gateway.events import is_handled
from stripe_gateway.events import routing_key
from stripe_gateway.polling import RETENTION_MARGIN_S
from stripe_gateway.polling import RETENTION_S
from stripe_gateway.polling import Window
from stripe_gateway.polling import split
from stripe_gateway.settings import Settings

BASE = {"MLC_MASTER_KEY": "a-master-key-long-enough"}


class TestEvents:
    def test_handled_events_are_known_to_the_sdk(self) -> None:
        assert set(HANDLED_EVENTS) <= KNOWN_EVENTS
        assert len(KNOWN_EVENTS) > 100
        assert "invoice.payment_succeeded" in KNOWN_EVENTS

    def test_a_typo_fails_the_check(self) -> None:
        with pytest.raises(ValueError, match="invoice.payed"):
            check_event_types(["invoice.paid", "invoice.payed"], KNOWN_EVENTS)

    def test_routing(self) -> None:
        assert routing_key("payout.paid") == "stripe.event.payout.paid"
        assert is_handled("charge.refunded")
        assert not is_handled("customer.created")


class TestSettings:
    def test_defaults(self) -> None:
        settings = Settings.from_env(BASE)
        assert settings.stripe_api_base == "https://api.stripe.com"
        assert settings.stripe_max_network_retries == 2
        assert settings.webhook_tolerance_s == 300
        assert settings.max_body_bytes == 256 * 1024
        assert settings.secrets_path == "ml-connector/stripe"

    def test_the_api_base_is_a_setting(self) -> None:
        settings = Settings.from_env({**BASE, "MLC_STRIPE_API_BASE": "http://127.0.0.1:12111/"})
        assert settings.stripe_api_base == "http://127.0.0.1:12111"

    def test_every_invalid_value_is_reported_at_once(self) -> None:
        env = {
            **BASE,
            "MLC_STRIPE_API_BASE": "https://user:pw@api.stripe.com",
            "MLC_STRIPE_WEBHOOK_TOLERANCE": "0",
            "MLC_STRIPE_MAX_NETWORK_RETRIES": "many",
            "MLC_STRIPE_TIMEOUT": "500",
        }
        with pytest.raises(ConfigError) as info:
            Settings.from_env(env)
        text = str(info.value)
        for name in (
            "MLC_STRIPE_API_BASE",
            "MLC_STRIPE_WEBHOOK_TOLERANCE",
            "MLC_STRIPE_MAX_NETWORK_RETRIES",
            "MLC_STRIPE_TIMEOUT",
        ):
            assert name in text
        assert "pw@" not in text


class TestPollWindow:
    NOW = 2_000_000_000
    EDGE = NOW - RETENTION_S + RETENTION_MARGIN_S

    def test_a_recent_window_reads_events_only(self) -> None:
        window = Window(self.NOW - 3600, self.NOW)
        assert split(window, self.NOW) == (None, window)

    def test_an_old_window_backfills_only(self) -> None:
        window = Window(self.NOW - 40 * 86400, self.NOW - 35 * 86400)
        assert split(window, self.NOW) == (window, None)

    def test_a_window_across_the_edge_is_split_there(self) -> None:
        window = Window(self.NOW - 40 * 86400, self.NOW)
        assert split(window, self.NOW) == (
            Window(window.since, self.EDGE),
            Window(self.EDGE, self.NOW),
        )

    def test_windows_are_half_open(self) -> None:
        window = Window(10, 20)
        assert 10 in window
        assert 20 not in window
        assert "15" not in window
