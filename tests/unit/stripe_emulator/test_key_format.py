"""Malformed API keys get Stripe's 401, even in the emulator's "any test key" mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import stripe

from stripe_emulator.auth import well_formed_test_key
from stripe_emulator.server import EmulatorServer

MALFORMED = [
    "sk_test_",  # the bare prefix: an unset variable after it
    "sk_test_4eC3",  # a stub / truncated paste
    "sk_test_4eC39HqLy jWDarjtT1zdp7dc",  # whitespace inside
    '"sk_test_4eC39HqLyjWDarjtT1zdp7dc"',  # pasted with its quotes
    "sk_test_...tT1zdp7dc",  # the masked key the Dashboard shows
    "sk_test_<your-secret-key>",  # a placeholder from an example
]


class TestWellFormed:
    @pytest.mark.parametrize("key", MALFORMED)
    def test_what_cannot_be_a_key_is_malformed(self, key: str) -> None:
        assert not well_formed_test_key(key)

    @pytest.mark.parametrize(
        "key",
        ["sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_emulator_contract", "sk_test_" + "a1" * 49],
    )
    def test_base62_keys_and_readable_test_keys_are_well_formed(self, key: str) -> None:
        assert well_formed_test_key(key)

    def test_other_prefixes_are_not_test_secret_keys(self) -> None:
        assert not well_formed_test_key("rk_test_4eC39HqLyjWDarjtT1zdp7dc")


class TestMalformedKeysOverHttp:
    @pytest.mark.parametrize("key", MALFORMED)
    def test_refused_with_401_and_never_echoed(
        self, key: str, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        with pytest.raises(stripe.AuthenticationError) as caught:
            make_client(key).v1.customers.list()

        assert caught.value.http_status == 401
        message = str(caught.value.user_message)
        assert message.startswith("Invalid API Key provided: ")
        if len(key) > len("sk_test_"):
            assert key not in message

    def test_the_bare_prefix_shows_as_stripe_masks_it(self, emu: EmulatorServer) -> None:
        response = requests.get(
            f"{emu.base_url}/v1/balance",
            headers={"Authorization": "Bearer sk_test_"},
            timeout=5,
        )

        assert response.status_code == 401
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"] == "Invalid API Key provided: sk_test_****"
        assert "code" not in error  # Stripe's invalid-key error carries no code

    def test_a_listed_key_is_matched_exactly_whatever_its_shape(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(api_keys=["sk_test_x"])
        assert make_client("sk_test_x").v1.customers.list().data == []
