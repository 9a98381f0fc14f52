"""Journal line currency from bank accounts, as table 81 derives it (line_currency.py).

A company in USD with EUR at 1.1 (conftest) and GBP at 0.5; Stripe clearing bank accounts in EUR
and GBP with their own G/L accounts, and batches balanced by the EUR one. The line currency is
read back through the admin view of unposted lines (the API pages have no currency field).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

EUR_BATCH = "STRIPEEUR"


@pytest.fixture
def banks(api: Any) -> dict[str, str]:
    """Foreign Stripe clearing banks and the batches balanced by STRIPE-EUR; returns batch ids."""
    api.seed("currencies", {"code": "GBP", "displayName": "Pound", "exchangeRate": "0.5"})
    api.seed(
        "accounts",
        [
            {"number": "10200", "displayName": "Stripe EUR", "category": "Assets"},
            {"number": "10210", "displayName": "Bank EUR", "category": "Assets"},
            {"number": "10300", "displayName": "Stripe GBP", "category": "Assets"},
        ],
    )
    api.seed(
        "bankAccounts",
        [
            {"number": "STRIPE-EUR", "currencyCode": "EUR", "glAccountNumber": "10200"},
            {"number": "BANK-EUR", "currencyCode": "eur", "glAccountNumber": "10210"},
            {"number": "STRIPE-GBP", "currencyCode": "GBP", "glAccountNumber": "10300"},
        ],
    )
    api.seed("customers", {"number": "C20000", "displayName": "Euro Kunde", "currencyCode": "EUR"})
    bank = {"balancingAccountType": "Bank Account", "balancingAccountNumber": "STRIPE-EUR"}
    cash = api.seed("journals", {"template": "CASHRCPT", "code": EUR_BATCH, **bank})
    general = api.seed("journals", {"template": "GENERAL", "code": "EURGEN", **bank})
    plain = api.seed("journals", {"template": "GENERAL", "code": "PLAIN"})
    return {"cash": cash["id"], "general": general["id"], "plain": plain["id"]}


def unposted(api: Any) -> dict[str, dict[str, Any]]:
    """Unposted lines by document number (admin view: currency and LCY amount)."""
    rows = api.admin("GET", f"companies/{api.company_id}/journalLines")["value"]
    return {row["documentNumber"]: row for row in rows}


def pay(api: Any, batch: str, **body: Any) -> Any:
    return api.post(f"customerPaymentJournals({batch})/customerPayments", body)


def line(api: Any, batch: str, **body: Any) -> Any:
    return api.post(f"journals({batch})/journalLines", body)


def error_message(kit: Any, response: Any) -> str:
    message: str = kit.loads(response)["error"]["message"]
    return message.partition("  CorrelationId:  ")[0]


class TestCustomerPaymentCurrency:
    def test_eur_customer_in_eur_bank_batch_is_a_eur_line(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        created = pay(
            api, banks["cash"], customerNumber="C20000", amount=Decimal("-100"), documentNumber="P1"
        )
        assert created.status_code == 201, created.text
        assert kit.loads(created)["amount"] == Decimal("-100")
        row = unposted(api)["P1"]
        assert (row["currencyCode"], row["amount"], row["amountLcy"]) == (
            "EUR",
            Decimal("-100"),
            Decimal("-110"),
        )
        assert (row["balancingAccountType"], row["balancingAccountNumber"]) == (
            "Bank Account",
            "STRIPE-EUR",
        )

    def test_lcy_customer_in_eur_bank_batch_takes_the_bank_currency(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        # GetCustomerAccount: "if not SetCurrencyCode(Bal. Account) then Currency := Cust's" --
        # the balancing bank's EUR wins and BC raises no error for the LCY customer.
        created = pay(
            api, banks["cash"], customerNumber="C10000", amount=Decimal("-20"), documentNumber="P2"
        )
        assert created.status_code == 201, created.text
        row = unposted(api)["P2"]
        assert (row["currencyCode"], row["amountLcy"]) == ("EUR", Decimal("-22"))

    def test_eur_customer_in_lcy_bank_batch_keeps_the_customer_currency(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        cash_default = api.setup["journals"]["CASHRCPT/DEFAULT"]  # balanced by CHECKING (USD)
        pay(api, cash_default, customerNumber="C20000", amount=Decimal("-10"), documentNumber="P3")
        row = unposted(api)["P3"]
        assert (row["currencyCode"], row["amountLcy"]) == ("EUR", Decimal("-11"))

    def test_patching_the_customer_follows_the_balancing_bank(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        cash_default = api.setup["journals"]["CASHRCPT/DEFAULT"]
        created = kit.loads(
            pay(
                api,
                cash_default,
                customerNumber="C10000",
                amount=Decimal("-10"),
                documentNumber="P4",
            )
        )
        assert unposted(api)["P4"]["currencyCode"] == "USD"
        patched = api.patch(
            f"customerPayments({created['id']})",
            {"customerNumber": "C20000"},
            created["@odata.etag"],
        )
        assert patched.status_code == 200, patched.text
        assert unposted(api)["P4"]["currencyCode"] == "EUR"
        assert unposted(api)["P4"]["amountLcy"] == Decimal("-11")


class TestJournalLineCurrency:
    def test_line_to_a_eur_bank_against_gl_is_a_eur_line(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        created = line(
            api,
            banks["plain"],
            accountType="Bank_x0020_Account",
            accountNumber="BANK-EUR",
            amount=Decimal("50"),
            documentNumber="J1",
            balanceAccountType="G_x002F_L_x0020_Account",
            balancingAccountNumber="10900",
        )
        assert created.status_code == 201, created.text
        row = unposted(api)["J1"]
        assert (row["currencyCode"], row["amount"], row["amountLcy"]) == (
            "EUR",
            Decimal("50"),
            Decimal("55"),
        )

    def test_lcy_bank_against_a_eur_bank_is_a_eur_line(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        created = line(
            api,
            banks["plain"],
            accountType="Bank_x0020_Account",
            accountNumber="CHECKING",
            amount=Decimal("10"),
            documentNumber="J2",
            balanceAccountType="Bank_x0020_Account",
            balancingAccountNumber="STRIPE-EUR",
        )
        assert created.status_code == 201, created.text
        assert unposted(api)["J2"]["currencyCode"] == "EUR"

    def test_banks_in_two_currencies_are_refused_with_bcs_testfield_error(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        response = line(
            api,
            banks["plain"],
            accountType="Bank_x0020_Account",
            accountNumber="STRIPE-GBP",
            amount=Decimal("10"),
            balanceAccountType="Bank_x0020_Account",
            balancingAccountNumber="STRIPE-EUR",
        )
        assert response.status_code == 400
        assert kit.loads(response)["error"]["code"] == "Application_FieldValidationException"
        assert error_message(kit, response) == (
            "Currency Code must be equal to 'EUR'  in Bank Account: No.=STRIPE-GBP. "
            "Current value is 'GBP'."
        )
        in_eur_batch = line(
            api,
            banks["general"],
            accountType="Bank_x0020_Account",
            accountNumber="STRIPE-GBP",
            amount=Decimal("10"),
        )
        assert in_eur_batch.status_code == 400
        assert error_message(kit, in_eur_batch) == (
            "Currency Code must be equal to 'EUR'  in Bank Account: No.=STRIPE-GBP. "
            "Current value is 'GBP'."
        )

    def test_bank_balanced_batch_needs_the_balance_account_type_in_the_body(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        # SetJournalLineValues compares the body's "Bal. Account Type" (G/L Account when left
        # out) with the batch's and validates it: the batch's bank is dropped, its currency kept.
        dropped = kit.loads(
            line(
                api,
                banks["general"],
                accountNumber="60100",
                amount=Decimal("1"),
                documentNumber="J3",
            )
        )
        assert dropped["balanceAccountType"] == "G_x002F_L_x0020_Account"
        assert dropped["balancingAccountNumber"] == ""
        assert unposted(api)["J3"]["currencyCode"] == "EUR"
        kept = kit.loads(
            line(
                api,
                banks["general"],
                accountNumber="60100",
                amount=Decimal("1"),
                documentNumber="J4",
                balanceAccountType="Bank_x0020_Account",
            )
        )
        assert kept["balanceAccountType"] == "Bank_x0020_Account"
        assert kept["balancingAccountNumber"] == "STRIPE-EUR"
        assert unposted(api)["J4"]["currencyCode"] == "EUR"

    def test_patching_the_account_to_a_gl_account_without_balancing_is_lcy(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        created = kit.loads(
            line(
                api,
                banks["plain"],
                accountType="Bank_x0020_Account",
                accountNumber="BANK-EUR",
                amount=Decimal("10"),
                documentNumber="J5",
            )
        )
        assert unposted(api)["J5"]["currencyCode"] == "EUR"
        patched = api.patch(
            f"journalLines({created['id']})",
            {"accountType": "G_x002F_L_x0020_Account", "accountNumber": "60100"},
            created["@odata.etag"],
        )
        assert patched.status_code == 200, patched.text
        row = unposted(api)["J5"]
        assert (row["currencyCode"], row["amountLcy"]) == ("USD", Decimal("10"))


class TestAmountRounding:
    def test_lcy_comes_from_the_amount_as_sent_unless_the_line_is_validated_again(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        # ValidateAmount: LCY = Round(10.045 / factor) = Round(11.0495) = 11.05, then Amount is
        # rounded to EUR's precision (10.05). Nothing validates this line again.
        created = line(
            api,
            banks["plain"],
            accountType="Bank_x0020_Account",
            accountNumber="BANK-EUR",
            amount=Decimal("10.045"),
            documentNumber="R1",
        )
        assert kit.loads(created)["amount"] == Decimal("10.05")
        assert unposted(api)["R1"]["amountLcy"] == Decimal("11.05")
        # SetPaymentsValues validates the balancing bank after Amount: "Currency Code" is
        # validated again, and with it Amount, now from the rounded -10.05 (-11.055 -> -11.06).
        pay(
            api,
            banks["cash"],
            customerNumber="C20000",
            amount=Decimal("-10.045"),
            documentNumber="R2",
        )
        row = unposted(api)["R2"]
        assert (row["amount"], row["amountLcy"]) == (Decimal("-10.05"), Decimal("-11.06"))

    def test_lcy_lines_round_to_two_decimals(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        created = line(api, banks["plain"], accountNumber="60100", amount=Decimal("1.005"))
        assert kit.loads(created)["amount"] == Decimal("1.01")
