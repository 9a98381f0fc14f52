"""Batches balanced by a bank account, and seeding bank accounts in a currency.

BC's batch pages map ``balancingAccountId`` to table 232 ``BalAccountId``, whose validation takes
G/L accounts only; a bank account as balancing account is set up in BC itself (here: the admin
seed) and reads back with a blank ``balancingAccountId`` (journal_batches.py, seeding.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

BLANK = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def eur_bank(api: Any) -> dict[str, Any]:
    """A EUR bank account with its own G/L account."""
    api.seed("accounts", {"number": "10200", "displayName": "Stripe EUR", "category": "Assets"})
    bank: dict[str, Any] = api.seed(
        "bankAccounts",
        {
            "number": "stripe-eur",
            "displayName": "Stripe EUR",
            "currencyCode": "EUR",
            "glAccountNumber": "10200",
        },
    )
    return bank


class TestSeeding:
    def test_bank_account_in_a_currency(self, api: Any, kit: Any, eur_bank: dict[str, Any]) -> None:
        assert (eur_bank["number"], eur_bank["currencyCode"]) == ("STRIPE-EUR", "EUR")
        listed = kit.loads(api.get("bankAccounts?$filter=number eq 'STRIPE-EUR'"))["value"][0]
        currency = kit.loads(api.get("currencies?$filter=code eq 'EUR'"))["value"][0]
        assert (listed["currencyCode"], listed["currencyId"]) == ("EUR", currency["id"])

    def test_lcy_code_means_lcy_and_unknown_currency_is_refused(self, api: Any, kit: Any) -> None:
        lcy = api.seed(
            "bankAccounts",
            {"number": "USD-BANK", "currencyCode": "USD", "glAccountNumber": "10100"},
        )
        assert (lcy["currencyCode"], lcy["currencyId"]) == ("USD", BLANK)
        refused = api.http.post(
            f"{api.bc.admin}/companies/{api.company_id}/bankAccounts",
            json={"number": "XYZ-BANK", "currencyCode": "XYZ", "glAccountNumber": "10100"},
            timeout=10,
        )
        assert refused.status_code == 400
        assert "XYZ" in refused.text

    def test_batch_balanced_by_an_unknown_bank_is_refused(self, api: Any, kit: Any) -> None:
        refused = api.http.post(
            f"{api.bc.admin}/companies/{api.company_id}/journals",
            json={
                "template": "CASHRCPT",
                "code": "NOBANK",
                "balancingAccountType": "Bank Account",
                "balancingAccountNumber": "NOPE",
            },
            timeout=10,
        )
        assert refused.status_code == 400
        assert "Bank Account does not exist" in refused.text


class TestBatchPages:
    def test_bank_balanced_batches_read_a_blank_balancing_account_id(
        self, api: Any, kit: Any, eur_bank: dict[str, Any]
    ) -> None:
        seeded = api.seed_journal("CASHRCPT", "STRIPEEUR", bank="STRIPE-EUR")
        batch = kit.loads(api.get(f"customerPaymentJournals({seeded})"))
        assert (batch["balancingAccountId"], batch["balancingAccountNumber"]) == (
            BLANK,
            "STRIPE-EUR",
        )
        default = kit.loads(
            api.get(f"customerPaymentJournals({api.setup['journals']['CASHRCPT/DEFAULT']})")
        )
        assert (default["balancingAccountId"], default["balancingAccountNumber"]) == (
            BLANK,
            "CHECKING",
        )

    @pytest.mark.parametrize("entity_set", ["customerPaymentJournals", "journals"])
    def test_api_refuses_a_bank_account_as_balancing_account(
        self, api: Any, kit: Any, eur_bank: dict[str, Any], entity_set: str
    ) -> None:
        response = api.post(entity_set, {"code": "BANKBAL", "balancingAccountId": eur_bank["id"]})
        assert response.status_code == 400
        assert kit.loads(response)["error"]["code"] == "Application_DialogException"
        assert kit.error_message(response) == (
            'The "balancingAccountNumber" does not match to a G/L Account.'
        )

    def test_patching_a_gl_account_replaces_the_bank_and_blank_clears_it(
        self, api: Any, kit: Any, eur_bank: dict[str, Any]
    ) -> None:
        cash = api.setup["journals"]["CASHRCPT/DEFAULT"]
        before = kit.loads(api.get(f"customerPaymentJournals({cash})"))
        clearing = api.setup["accounts"]["10900"]
        patched = api.patch(
            f"customerPaymentJournals({cash})",
            {"balancingAccountId": clearing},
            before["@odata.etag"],
        )
        assert patched.status_code == 200, patched.text
        body = kit.loads(patched)
        assert (body["balancingAccountId"], body["balancingAccountNumber"]) == (clearing, "10900")
        cleared = api.patch(
            f"customerPaymentJournals({cash})", {"balancingAccountId": BLANK}, body["@odata.etag"]
        )
        assert kit.loads(cleared)["balancingAccountNumber"] == ""

    def test_blocked_gl_account_is_refused_as_balancing_account(self, api: Any, kit: Any) -> None:
        blocked = api.seed(
            "accounts",
            {"number": "19999", "displayName": "Old", "category": "Assets", "blocked": True},
        )
        response = api.post("journals", {"code": "OLD", "balancingAccountId": blocked["id"]})
        assert response.status_code == 400
        assert kit.error_message(response) == (
            "Blocked must be equal to 'No'  in G/L Account: No.=19999. Current value is 'Yes'."
        )

    def test_payment_lines_of_a_bank_balanced_batch_balance_to_the_bank(
        self, api: Any, kit: Any, eur_bank: dict[str, Any]
    ) -> None:
        seeded = api.seed_journal("CASHRCPT", "STRIPEEUR", bank="STRIPE-EUR")
        created = api.post(
            f"customerPaymentJournals({seeded})/customerPayments",
            {"customerNumber": "C10000", "amount": Decimal("-5"), "documentNumber": "BB1"},
        )
        assert created.status_code == 201, created.text
        row = api.unposted_lines()["BB1"]
        assert (
            row["balancingAccountType"],
            row["balancingAccountNumber"],
            row["currencyCode"],
        ) == (
            "Bank Account",
            "STRIPE-EUR",
            "EUR",
        )
