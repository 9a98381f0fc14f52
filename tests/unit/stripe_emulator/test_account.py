"""`GET /v1/account`: the key's own account, as stripe-python 16.1.0 reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import stripe

from stripe_emulator.server import EmulatorError
from stripe_emulator.server import EmulatorServer

TEST_KEY = "sk_test_emulator_contract"

ACCOUNT_SHAPE: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "object": (str,),
    "business_profile": (dict,),
    "business_type": (str,),
    "capabilities": (dict,),
    "charges_enabled": (bool,),
    "controller": (dict,),
    "country": (str,),
    "created": (int,),
    "default_currency": (str,),
    "details_submitted": (bool,),
    "email": (str,),
    "metadata": (dict,),
    "payouts_enabled": (bool,),
    "requirements": (dict,),
    "settings": (dict,),
    "type": (str,),
}


class TestRetrieveCurrent:
    def test_the_client_gets_a_typed_standard_account(
        self,
        client: stripe.StripeClient,
        assert_shape: Callable[..., dict[str, Any]],
    ) -> None:
        account = client.v1.accounts.retrieve_current()

        data = assert_shape(account, stripe.Account, ACCOUNT_SHAPE)
        assert list(data)[:2] == ["id", "object"]
        assert (account.id, account.object) == ("acct_emulator", "account")
        assert (account.type, account.default_currency) == ("standard", "usd")
        flags = (account.charges_enabled, account.payouts_enabled, account.details_submitted)
        assert flags == (True, True, True)
        assert account.controller is not None
        assert account.controller.type == "account"
        profile = account.business_profile
        assert profile is not None
        assert (profile.name, profile.url, profile.support_email) == (
            "Emulated Business",
            "https://business.example",
            "support@business.example",
        )
        assert account.settings is not None
        assert account.settings.dashboard.display_name == "Emulated Business"
        assert account.settings.payouts is not None
        schedule = account.settings.payouts.schedule
        assert isinstance(schedule, stripe.Account.Settings.Payouts.Schedule)
        assert (schedule.interval, schedule.delay_days) == ("daily", 2)
        assert account.capabilities is not None
        assert account.capabilities.card_payments == "active"
        assert account.requirements is not None
        assert account.requirements.currently_due == []

    def test_the_global_resource_call_without_an_id_reads_the_same_route(
        self, emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # `stripe.Account.retrieve()` builds `/v1/account` when no id is given.
        monkeypatch.setattr(stripe, "api_base", emu.base_url)
        account = stripe.Account.retrieve(api_key=TEST_KEY)

        assert account.id == "acct_emulator"
        assert emu.request_count(path="/v1/account")["by_route"] == {"GET /v1/account": 1}

    def test_settings_shape_the_account(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(
            account_id="acct_1FabrikamTest00",
            default_currency="eur",
            account={
                "business_profile": {"name": "Fabrikam", "url": "https://fabrikam.example"},
                "country": "DE",
                "settings": {
                    "dashboard": {"display_name": "Fabrikam GmbH"},
                    "payouts": {"schedule": {"interval": "weekly", "weekly_anchor": "friday"}},
                },
                "metadata": {"erp": "bc"},
            },
        )

        account = client.v1.accounts.retrieve_current()

        assert (account.id, account.default_currency, account.country) == (
            "acct_1FabrikamTest00",
            "eur",
            "DE",
        )
        assert account.business_profile is not None
        assert account.business_profile.name == "Fabrikam"
        # Fields the override leaves out keep their defaults.
        assert account.business_profile.support_email == "support@business.example"
        assert account.settings is not None
        assert account.settings.dashboard.display_name == "Fabrikam GmbH"
        assert account.settings.payouts is not None
        schedule = account.settings.payouts.schedule
        assert (schedule.interval, schedule.weekly_anchor, schedule.delay_days) == (
            "weekly",
            "friday",
            2,
        )
        assert account.metadata is not None
        assert account.metadata.to_dict() == {"erp": "bc"}

    @pytest.mark.parametrize(
        ("account", "message"),
        [
            ({"business_profile": {"nam": "x"}}, "account.business_profile.nam is not an"),
            ({"charges_enabled": 1}, "account.charges_enabled must be a bool"),
            ({"settings": {"payouts": "daily"}}, "account.settings.payouts must be an object"),
        ],
    )
    def test_a_wrong_setting_is_refused_when_it_is_made(
        self, emu: EmulatorServer, account: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(EmulatorError) as caught:
            emu.configure(account=account)
        assert caught.value.status == 400
        assert message in caught.value.body["error"]["message"]

    def test_unknown_parameters_are_refused(self, emu: EmulatorServer) -> None:
        response = requests.get(
            f"{emu.base_url}/v1/account", params={"limit": 1}, auth=(TEST_KEY, ""), timeout=5
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "parameter_unknown"


class TestRestrictedKeys:
    def test_a_key_without_the_account_permission_gets_403(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(restricted_keys={"rk_test_51NoAccountRead": ["customers:read"]})

        with pytest.raises(stripe.PermissionError) as caught:
            make_client("rk_test_51NoAccountRead").v1.accounts.retrieve_current()

        assert caught.value.http_status == 403
        message = str(caught.value.user_message)
        assert "'account:read' permission" in message
        assert "rk_test_51NoAccountRead" not in message

    def test_a_key_with_read_access_gets_the_account(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(restricted_keys={"rk_test_51AccountReader": ["account:read"]})
        account = make_client("rk_test_51AccountReader").v1.accounts.retrieve_current()
        assert account.id == "acct_emulator"
