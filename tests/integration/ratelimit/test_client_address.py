"""Which client a request is counted against: ``X-Forwarded-For`` only behind trusted proxies.

With ``MLC_TRUSTED_PROXIES=0`` the header is the client's own text, so rotating it must not buy
a fresh budget; with N trusted proxies the client is the N-th hop from the right, whatever the
client wrote to the left of it. The pure address rules are tested directly at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlconnector.config import ConfigError
from mlconnector.ratelimit import RateLimitSettings
from mlconnector.ratelimit import client_address

INGRESS = "10.0.0.5"  # the ingress controller: the socket peer of every proxied request
WRONG = "Bearer not-the-replay-token-0000"


def wrong_token(client: Any, kit: Any, peer: str, forwarded_for: str | None = None) -> int:
    headers = {"Authorization": WRONG}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    status: int = client.get("/records", **kit.from_address(peer, **headers)).status_code
    return status


@pytest.mark.rabbitmq
class TestWithoutTrustedProxies:
    def test_a_spoofed_x_forwarded_for_does_not_evade_the_limit(
        self, reconciler_api: Any, kit: Any
    ) -> None:
        client = reconciler_api()

        statuses = [
            wrong_token(client, kit, "203.0.113.7", f"198.51.100.{n}, 192.0.2.{n}")
            for n in range(40)
        ]

        assert statuses == [401] * 10 + [429] * 30


@pytest.mark.rabbitmq
class TestBehindTrustedProxies:
    def test_the_forwarded_client_is_counted_not_the_ingress(
        self, reconciler_api: Any, kit: Any
    ) -> None:
        client = reconciler_api(MLC_TRUSTED_PROXIES="1")

        attacker = [wrong_token(client, kit, INGRESS, "203.0.113.7") for _ in range(12)]
        # Another client behind the same ingress keeps its own budget.
        other = wrong_token(client, kit, INGRESS, "198.51.100.20")
        # Prepending addresses is the client's own text: the ingress's hop still names it.
        spoofed = [wrong_token(client, kit, INGRESS, f"192.0.2.{n}, 203.0.113.7") for n in range(5)]

        assert attacker == [401] * 10 + [429] * 2
        assert other == 401
        assert spoofed == [429] * 5

    def test_two_hops_take_the_second_address_from_the_right(
        self, reconciler_api: Any, kit: Any
    ) -> None:
        client = reconciler_api(MLC_TRUSTED_PROXIES="2")

        statuses = [
            wrong_token(client, kit, INGRESS, f"192.0.2.{n}, 203.0.113.7, 10.0.0.9")
            for n in range(11)
        ]

        assert statuses == [401] * 10 + [429]

    def test_a_request_that_bypassed_the_proxies_is_counted_by_its_peer(
        self, reconciler_api: Any, kit: Any
    ) -> None:
        client = reconciler_api(MLC_TRUSTED_PROXIES="1")

        statuses = [wrong_token(client, kit, "203.0.113.8") for _ in range(11)]

        assert statuses == [401] * 10 + [429]


class TestClientAddress:
    @pytest.mark.parametrize(
        ("peer", "forwarded", "trusted", "expected"),
        [
            ("203.0.113.7", ["198.51.100.1"], 0, "203.0.113.7"),
            ("10.0.0.5", ["198.51.100.1"], 1, "198.51.100.1"),
            ("10.0.0.5", ["192.0.2.1, 198.51.100.1"], 1, "198.51.100.1"),
            ("10.0.0.5", ["192.0.2.1", "198.51.100.1, 10.0.0.9"], 2, "198.51.100.1"),
            ("10.0.0.5", [], 1, "10.0.0.5"),
            ("10.0.0.5", ["198.51.100.1"], 2, "10.0.0.5"),
            ("10.0.0.5", [" , "], 1, "10.0.0.5"),
            ("10.0.0.5", ["198.51.100.1:4711"], 1, "198.51.100.1"),
            ("10.0.0.5", ["[2001:db8::1]:4711"], 1, "2001:db8::/64"),
            ("2001:db8:1:2:aaaa::1", [], 0, "2001:db8:1:2::/64"),
            ("::ffff:203.0.113.7", [], 0, "203.0.113.7"),
            (None, [], 0, "unknown"),
            ("10.0.0.5", ["not-an-address"], 1, "not-an-address"),
        ],
    )
    def test_the_key_a_request_is_counted_against(
        self, peer: str | None, forwarded: list[str], trusted: int, expected: str
    ) -> None:
        assert client_address(peer, forwarded, trusted) == expected

    def test_two_addresses_of_one_ipv6_subscriber_share_a_budget(self) -> None:
        assert client_address("2001:db8:1:2::1", [], 0) == client_address(
            "2001:db8:1:2:ffff:ffff:ffff:ffff", [], 0
        )
        assert client_address("2001:db8:1:2::1", [], 0) != client_address("2001:db8:1:3::1", [], 0)


class TestSettings:
    def test_defaults(self) -> None:
        settings = RateLimitSettings.from_env({})

        assert settings.webhook_refusals == "30/minute;300/hour"
        assert settings.auth_failures == "10/minute;50/hour"
        assert settings.api_requests == "1200/minute"

    def test_every_bad_variable_is_named_in_one_error(self) -> None:
        with pytest.raises(ConfigError) as info:
            RateLimitSettings.from_env(
                {
                    "MLC_RATELIMIT_WEBHOOK_REFUSALS": "lots",
                    "MLC_RATELIMIT_AUTH_FAILURES": "0/minute",
                    "MLC_RATELIMIT_API": "100/fortnight",
                    "MLC_RATELIMIT_KEY_PREFIX": "a b",
                }
            )

        assert len(info.value.problems) == 4
        for name in ("WEBHOOK_REFUSALS", "AUTH_FAILURES", "RATELIMIT_API", "KEY_PREFIX"):
            assert any(name in problem for problem in info.value.problems)

    @pytest.mark.rabbitmq
    def test_a_bad_limit_stops_the_app_from_starting(self, stripe_gateway: Any) -> None:
        with pytest.raises(ConfigError, match="MLC_RATELIMIT_WEBHOOK_REFUSALS"):
            stripe_gateway(MLC_RATELIMIT_WEBHOOK_REFUSALS="ten a minute")
