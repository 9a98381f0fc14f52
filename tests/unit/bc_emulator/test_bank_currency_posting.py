"""Posting lines in a bank account's currency: ledgers, LCY G/L, balance checks, admin balance.

Same company shape as test_bank_currency_lines.py: USD company, EUR at 1.1, GBP at 0.5, Stripe
clearing banks in EUR and GBP with their own G/L accounts, a cash-receipt batch balanced by the
EUR one (bank_posting.py, journal_balance.py, journal_posting.py, admin_balances.py).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from bc_emulator.bank_posting import bank_posting
from bc_emulator.errors import BCError
from bc_emulator.journal_balance import al_format_decimal
from bc_emulator.line_currency import al_round
from bc_emulator.models import BankAccount
from bc_emulator.models import JournalBatch
from bc_emulator.models import JournalLine

LINE = {"lineType": "Account", "lineObjectNumber": "40100", "quantity": 1}
CHECK = (
    "Please check that Posting Date, Document Type, Document No. and Amount are correct for each "
    "line."
)


@pytest.fixture
def banks(api: Any) -> dict[str, str]:
    """Foreign clearing banks and batches; returns batch ids by name."""
    api.seed("currencies", {"code": "GBP", "displayName": "Pound", "exchangeRate": "0.5"})
    api.seed(
        "accounts",
        [
            {"number": "10200", "displayName": "Stripe EUR", "category": "Assets"},
            {"number": "10300", "displayName": "Stripe GBP", "category": "Assets"},
        ],
    )
    api.seed(
        "bankAccounts",
        [
            {"number": "STRIPE-EUR", "currencyCode": "EUR", "glAccountNumber": "10200"},
            {"number": "STRIPE-GBP", "currencyCode": "GBP", "glAccountNumber": "10300"},
        ],
    )
    api.seed("customers", {"number": "C20000", "displayName": "Euro Kunde", "currencyCode": "EUR"})
    cash = api.seed(
        "journals",
        {
            "template": "CASHRCPT",
            "code": "STRIPEEUR",
            "balancingAccountType": "Bank Account",
            "balancingAccountNumber": "STRIPE-EUR",
        },
    )
    plain = api.seed("journals", {"template": "GENERAL", "code": "PLAIN"})
    return {"cash": cash["id"], "plain": plain["id"]}


def post(api: Any, batch: str) -> Any:
    return api.post(f"journals({batch})/Microsoft.NAV.post")


def gl_by_account(api: Any, kit: Any, document: str) -> dict[str, Decimal]:
    """Net LCY per G/L account of a document, summed through the generalLedgerEntries API."""
    body = kit.loads(api.get(f"generalLedgerEntries?$filter=documentNumber eq '{document}'"))
    totals: dict[str, Decimal] = {}
    for entry in body["value"]:
        net = entry["debitAmount"] - entry["creditAmount"]
        totals[entry["accountNumber"]] = totals.get(entry["accountNumber"], Decimal(0)) + net
    return totals


def balance(api: Any, number: str) -> dict[str, Any]:
    result: dict[str, Any] = api.admin(
        "GET", f"companies/{api.company_id}/bankAccounts/{number}/balance"
    )
    return result


def error_message(kit: Any, response: Any) -> str:
    message: str = kit.loads(response)["error"]["message"]
    return message.partition("  CorrelationId:  ")[0]


class TestEurPaymentPosting:
    def test_eur_payment_posts_eur_bank_entry_lcy_gl_and_pays_the_eur_invoice(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        invoice = api.seed(
            "invoices",
            {"customerNumber": "C20000", "post": True, "lines": [{**LINE, "unitPrice": 100}]},
        )
        assert invoice["currencyCode"] == "EUR"
        api.post(
            f"customerPaymentJournals({banks['cash']})/customerPayments",
            {
                "amount": Decimal("-100"),
                "appliesToInvoiceId": invoice["id"],
                "documentNumber": "E1",
            },
        )
        assert post(api, banks["cash"]).status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (paid["status"], paid["remainingAmount"]) == ("Paid", Decimal("0"))
        assert gl_by_account(api, kit, "E1") == {"13100": Decimal("-110"), "10200": Decimal("110")}
        bank = api.admin("GET", f"companies/{api.company_id}/bankLedgerEntries")["value"]
        assert [
            (b["bankAccountNumber"], b["currencyCode"], b["amount"], b["amountLcy"]) for b in bank
        ] == [("STRIPE-EUR", "EUR", Decimal("100"), Decimal("110"))]
        entries = api.admin("GET", f"companies/{api.company_id}/customerLedgerEntries")["value"]
        payment = next(e for e in entries if e["documentNumber"] == "E1")
        assert (payment["currencyCode"], payment["amount"], payment["amountLcy"]) == (
            "EUR",
            Decimal("-100"),
            Decimal("-110"),
        )
        assert payment["remaining"] == 0
        assert balance(api, "stripe-eur") == {
            "number": "STRIPE-EUR",
            "currencyCode": "EUR",
            "balance": Decimal("100"),
            "balanceLcy": Decimal("110"),
        }

    def test_lcy_customer_paid_in_eur_needs_application_between_currencies(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        invoice = api.seed(
            "invoices",
            {"customerNumber": "C10000", "post": True, "lines": [{**LINE, "unitPrice": 110}]},
        )
        api.post(
            f"customerPaymentJournals({banks['cash']})/customerPayments",
            {
                "amount": Decimal("-100"),
                "appliesToInvoiceId": invoice["id"],
                "documentNumber": "E2",
            },
        )
        refused = post(api, banks["cash"])
        assert refused.status_code == 400
        assert "same currency" in refused.text
        api.admin(
            "PATCH", f"companies/{api.company_id}/settings", {"applnBetweenCurrencies": "All"}
        )
        assert post(api, banks["cash"]).status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert paid["status"] == "Paid"

    def test_eur_payment_to_the_lcy_bank_books_the_lcy_amount_on_the_bank(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        cash_default = api.setup["journals"]["CASHRCPT/DEFAULT"]  # balanced by CHECKING (USD)
        api.post(
            f"customerPaymentJournals({cash_default})/customerPayments",
            {"customerNumber": "C20000", "amount": Decimal("-10"), "documentNumber": "E3"},
        )
        assert post(api, cash_default).status_code == 204
        bank = api.admin("GET", f"companies/{api.company_id}/bankLedgerEntries")["value"]
        assert [
            (b["bankAccountNumber"], b["currencyCode"], b["amount"], b["amountLcy"]) for b in bank
        ] == [("CHECKING", "", Decimal("11"), Decimal("11"))]
        assert balance(api, "CHECKING") == {
            "number": "CHECKING",
            "currencyCode": "USD",
            "balance": Decimal("11"),
            "balanceLcy": Decimal("11"),
        }


class TestGeneralLinesInForeignCurrency:
    def test_gl_sums_in_lcy_through_the_api_and_the_bank_keeps_eur(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        # Stripe fee in EUR taken from the EUR clearing balance, and a payout to the USD bank.
        for body in (
            {"accountNumber": "60100", "amount": Decimal("2.90")},
            {
                "accountType": "Bank_x0020_Account",
                "accountNumber": "CHECKING",
                "amount": Decimal("97.10"),
            },
        ):
            created = api.post(
                f"journals({banks['plain']})/journalLines",
                {
                    **body,
                    "documentNumber": "PO-1",
                    "balanceAccountType": "Bank_x0020_Account",
                    "balancingAccountNumber": "STRIPE-EUR",
                },
            )
            assert created.status_code == 201, created.text
        assert post(api, banks["plain"]).status_code == 204
        assert gl_by_account(api, kit, "PO-1") == {
            "60100": Decimal("3.19"),
            "10100": Decimal("106.81"),
            "10200": Decimal("-110.00"),
        }
        entries = kit.loads(api.get("generalLedgerEntries"))["value"]
        assert sum(e["debitAmount"] - e["creditAmount"] for e in entries) == 0
        assert balance(api, "STRIPE-EUR")["balance"] == Decimal("-100")
        assert balance(api, "STRIPE-EUR")["balanceLcy"] == Decimal("-110")
        assert balance(api, "CHECKING")["balance"] == Decimal("106.81")

    def test_amount_lcy_from_the_unrounded_amount_reaches_the_ledgers(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        for number, kind, amount in (
            ("STRIPE-EUR", "Bank_x0020_Account", Decimal("10.045")),  # 10.05 EUR, 11.05 LCY
            ("10900", "G_x002F_L_x0020_Account", Decimal("-11.05")),
        ):
            api.post(
                f"journals({banks['plain']})/journalLines",
                {
                    "accountType": kind,
                    "accountNumber": number,
                    "amount": amount,
                    "documentNumber": "RD",
                },
            )
        assert post(api, banks["plain"]).status_code == 204
        assert gl_by_account(api, kit, "RD") == {
            "10200": Decimal("11.05"),
            "10900": Decimal("-11.05"),
        }
        assert balance(api, "STRIPE-EUR")["balance"] == Decimal("10.05")


class TestDocumentBalance:
    def _lines(self, api: Any, batch: str, bank: str, amounts: list[str], document: str) -> None:
        for amount in amounts:
            response = api.post(
                f"journals({batch})/journalLines",
                {
                    "accountType": "Bank_x0020_Account",
                    "accountNumber": bank,
                    "amount": Decimal(amount),
                    "documentNumber": document,
                },
            )
            assert response.status_code == 201, response.text

    def test_two_lines_that_cancel_in_eur_cancel_in_lcy(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        self._lines(api, banks["plain"], "STRIPE-EUR", ["0.05", "-0.05"], "B1")
        assert post(api, banks["plain"]).status_code == 204

    def test_a_rounding_difference_in_lcy_is_not_absorbed(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        # 0.05 EUR -> 0.055 -> 0.06 LCY twice, -0.10 EUR -> -0.11 LCY: 0.01 LCY left over.
        self._lines(api, banks["plain"], "STRIPE-EUR", ["0.05", "0.05", "-0.10"], "B2")
        response = post(api, banks["plain"])
        assert response.status_code == 400
        assert kit.loads(response)["error"]["code"] == "Application_DialogException"
        assert error_message(kit, response) == f"Document No. B2 is out of balance by 0.01. {CHECK}"

    def test_a_one_currency_document_must_also_balance_in_its_currency(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        # GBP at 0.5: +0.02 -> 0.01 LCY, -0.01 -> -0.005 -> -0.01 LCY; balanced in LCY only.
        self._lines(api, banks["plain"], "STRIPE-GBP", ["0.02", "-0.01"], "B3")
        response = post(api, banks["plain"])
        assert response.status_code == 400
        assert error_message(kit, response) == (
            f"Document No. B3 is out of balance by 0.01 GBP. {CHECK}"
        )

    def test_lcy_document_message_uses_al_number_format(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        api.post(
            f"journals({banks['plain']})/journalLines",
            {"accountNumber": "60100", "amount": Decimal("1234.50"), "documentNumber": "B4"},
        )
        response = post(api, banks["plain"])
        assert (
            error_message(kit, response) == f"Document No. B4 is out of balance by 1,234.5. {CHECK}"
        )


class TestAdminBalance:
    def test_unknown_bank_account_is_404(self, api: Any, kit: Any, banks: dict[str, str]) -> None:
        response = api.http.get(
            f"{api.bc.admin}/companies/{api.company_id}/bankAccounts/NOPE/balance", timeout=10
        )
        assert response.status_code == 404
        assert kit.loads(response)["error"]["code"] == "Internal_RecordNotFound"

    def test_new_bank_account_has_zero_balance(
        self, api: Any, kit: Any, banks: dict[str, str]
    ) -> None:
        assert balance(api, "STRIPE-GBP") == {
            "number": "STRIPE-GBP",
            "currencyCode": "GBP",
            "balance": 0,
            "balanceLcy": 0,
        }


class TestPureRules:
    """The AL rules that the API cannot reach on their own."""

    @staticmethod
    def _records(
        line_currency: str, bank_currency: str
    ) -> tuple[JournalBatch, BankAccount, JournalLine]:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        batch = JournalBatch(id="b", seq=1, created_at=now, last_modified=now, template="GENERAL")
        batch.values = {"code": "PAYOUT"}
        bank = BankAccount(
            id="k", seq=2, created_at=now, last_modified=now, currency_code=bank_currency
        )
        bank.values = {"number": "STRIPE-EUR"}
        line = JournalLine(
            id="l",
            seq=3,
            created_at=now,
            last_modified=now,
            batch_id="b",
            account_type="Bank Account",
            currency_code=line_currency,
            amount=Decimal("10"),
            amount_lcy=Decimal("11"),
        )
        line.values = {"lineNumber": 10000}
        return batch, bank, line

    def test_post_bank_acc_currency_testfields(self) -> None:
        batch, bank, line = self._records("", "EUR")
        with pytest.raises(BCError) as lcy_line:
            bank_posting(batch, line, bank, 1)
        assert lcy_line.value.message == (
            "Currency Code must be equal to ''  in Bank Account: No.=STRIPE-EUR. "
            "Current value is 'EUR'."
        )
        batch, bank, line = self._records("GBP", "EUR")
        with pytest.raises(BCError) as other:
            bank_posting(batch, line, bank, 1)
        assert other.value.message == (
            "Currency Code must be equal to 'EUR'  in Gen. Journal Line: Journal Template "
            "Name=GENERAL, Journal Batch Name=PAYOUT, Line No.=10000. Current value is 'GBP'."
        )
        batch, bank, line = self._records("EUR", "")
        lcy_bank = bank_posting(batch, line, bank, -1)
        assert (lcy_bank.amount, lcy_bank.amount_lcy) == (Decimal("-11"), Decimal("-11"))
        batch, bank, line = self._records("EUR", "EUR")
        eur_bank = bank_posting(batch, line, bank, 1)
        assert (eur_bank.currency_code, eur_bank.amount, eur_bank.amount_lcy) == (
            "EUR",
            Decimal("10"),
            Decimal("11"),
        )

    @pytest.mark.parametrize(
        ("value", "precision", "rounded"),
        [
            ("0.055", "0.01", "0.06"),
            ("-0.055", "0.01", "-0.06"),
            ("0.0549", "0.01", "0.05"),
            ("12.5", "1", "13"),
        ],
    )
    def test_al_round_goes_to_the_nearest_and_halves_away_from_zero(
        self, value: str, precision: str, rounded: str
    ) -> None:
        assert al_round(Decimal(value), Decimal(precision)) == Decimal(rounded)

    def test_al_format_of_decimals(self) -> None:
        assert al_format_decimal(Decimal("0.010")) == "0.01"
        assert al_format_decimal(Decimal("-1234.50")) == "-1,234.5"
        assert al_format_decimal(Decimal("1E+1")) == "10"
