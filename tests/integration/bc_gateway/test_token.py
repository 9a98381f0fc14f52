"""MsalTokenProvider against the emulator's Entra-style token endpoint (real msal, real HTTPS)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from factories import SERVICE_SECRETS

from bc_gateway.adapters.token import MsalTokenProvider
from bc_gateway.adapters.token import TokenError

pytestmark = pytest.mark.rabbitmq

BC = SERVICE_SECRETS["ml-connector/bc"]
TENANT = "5f1d2c3b-0a9e-4d8c-b7a6-112233445566"


def provider(bc: Any, **overrides: Any) -> MsalTokenProvider:
    args: dict[str, Any] = {
        "authority": bc.authority(TENANT),
        "client_id": BC["client_id"],
        "client_secret": BC["client_secret"],
    }
    args.update(overrides)
    return MsalTokenProvider(
        args.pop("authority"),
        args.pop("client_id"),
        args.pop("client_secret"),
        instance_discovery=False,
        ca_bundle=bc.ca_file,
        trust_env=False,
        **args,
    )


class TestAcquire:
    def test_a_token_is_acquired_then_served_from_the_cache(self, bc: Any, admin: Any) -> None:
        tokens = provider(bc)
        first = tokens.token()
        assert tokens.last_source == "identity_provider"
        # Any further token request would hit this fault; the cache must answer instead.
        admin.fault(status=503, target="token", count=1)

        second = tokens.token()

        assert second == first
        assert tokens.last_source == "cache"
        assert admin.faults()[0]["hits"] == 0

    def test_a_token_close_to_expiry_is_refreshed_before_it_expires(
        self, bc: Any, admin: Any
    ) -> None:
        # msal renews a token with less than five minutes left: a 300 s token is always due.
        admin.config(token_lifetime_seconds=300)
        tokens = provider(bc)
        first = tokens.token()

        second = tokens.token()

        assert second != first
        assert tokens.last_source == "identity_provider"

    def test_invalidate_forces_a_new_token(self, bc: Any, admin: Any) -> None:
        tokens = provider(bc)
        first = tokens.token()
        tokens.invalidate()
        assert tokens.token() != first
        assert tokens.last_source == "identity_provider"

    def test_the_token_never_reaches_the_log(
        self, bc: Any, admin: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        token = provider(bc).token()
        assert token not in caplog.text
        assert BC["client_secret"] not in caplog.text


class TestFailures:
    def test_a_wrong_secret_is_a_typed_error_with_the_aadsts_code_and_no_secret(
        self, bc: Any, admin: Any
    ) -> None:
        with pytest.raises(TokenError) as info:
            provider(bc, client_secret="not-the-right-secret-123").token()
        error = info.value
        assert error.aadsts == 7000215
        assert error.retryable is False
        assert "AADSTS7000215" in str(error)
        assert "client_secret" in str(error)
        assert "not-the-right-secret-123" not in str(error)

    def test_an_unknown_app_is_reported_as_not_registered(self, bc: Any, admin: Any) -> None:
        with pytest.raises(TokenError) as info:
            provider(bc, client_id="11111111-2222-3333-4444-555555555555").token()
        assert info.value.aadsts == 700016
        assert "not registered" in str(info.value)

    def test_a_wrong_tenant_is_named_as_such(self, bc: Any, admin: Any) -> None:
        wrong = bc.authority("99999999-0000-0000-0000-000000000000")
        with pytest.raises(TokenError) as info:
            provider(bc, authority=wrong).token()
        assert info.value.aadsts == 90002
        assert "MLC_BC_TENANT_ID" in str(info.value)

    def test_an_unavailable_token_endpoint_is_retryable(self, bc: Any, admin: Any) -> None:
        tokens = provider(bc)
        admin.fault(status=503, target="token", count=1)
        with pytest.raises(TokenError) as info:
            tokens.token()
        assert info.value.retryable is True
        assert admin.faults()[0]["hits"] == 1

    def test_an_unreachable_authority_is_retryable(self, bc: Any) -> None:
        with pytest.raises(TokenError) as info:
            provider(bc, authority=f"https://127.0.0.1:1/{TENANT}").token()
        assert info.value.retryable is True
