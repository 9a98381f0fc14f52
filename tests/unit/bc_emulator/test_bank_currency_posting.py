"""Posting lines in a bank account's currency: ledgers, LCY G/L, balance checks, admin balance.

The company is conftest's ``foreign_banks``, as in test_bank_currency_lines.py: USD company, EUR
at 1.1, GBP at 0.5, Stripe clearing banks in EUR and GBP with their own G/L accounts, a
cash-receipt batch balanced by the EUR one (bank_posting.py, journal_balance.py,
journal_posting.py, admin_balances.py).
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

BANK = "Bank_x0020_Account"
GL = "G_x002F_L_x0020_Account"
LINE = {"lineType": "Account", "lineObjectNumber": "40100", "quantity": 1}
CHECK = (
    "Please check that Posting Date, Document Type, Document No. and Amount are correct for each "
    "line."
)


def post(api: Any, batch: str) -> Any:
    return api.post(f"journals({batch})/Microsoft.NAV.post")


def add_lines(api: Any, batch: str, document: str, *bodies: dict[str, Any]) -> None:
    """Create journal lines of one document in ``batch``; each must be accepted."""
    for body in bodies:
        response = api.post(f"journals({batch})/journalLines", {**body, "documentNumber": document})
        assert response.status_code == 201, response.text


def bank_line(bank: str, amount: str, **more: Any) -> dict[str, Any]:
    """A journal line body on bank account ``bank``."""
    return {"accountType": BANK, "accountNumber": bank, "amount": Decimal(amount), **more}


def pay(api: Any, batch: str, document: str, **body: Any) -> None:
    """Create a customer payment line in cash-receipt batch ``batch`` (posting checks it)."""
    api.post(
        f"customerPaymentJournals({batch})/customerPayments", {**body, "documentNumber": document}
    )


def posted_invoice(api: Any, customer: str, unit_price: int) -> dict[str, Any]:
    """A posted sales invoice of one line on account 40100, in the customer's currency."""
    invoice: dict[str, Any] = api.seed(
        "invoices",
        {"customerNumber": customer, "post": True, "lines": [{**LINE, "unitPrice": unit_price}]},
    )
    return invoice


def gl_by_account(api: Any, kit: Any, document: str) -> dict[str, Decimal]:
    """Net LCY per G/L account of a document, summed through the generalLedgerEntries API."""
    body = kit.loads(api.get(f"generalLedgerEntries?$filter=documentNumber eq '{document}'"))
    totals: dict[str, Decimal] = {}
    for entry in body["value"]:
        net = entry["debitAmount"] - entry["creditAmount"]
        totals[entry["accountNumber"]] = totals.get(entry["accountNumber"], Decimal(0)) + net
    return totals


def bank_entries(api: Any) -> list[tuple[str, str, Decimal, Decimal]]:
    """Bank ledger entries (admin view): bank account, currency, amount and LCY amount."""
    rows = api.admin("GET", f"companies/{api.company_id}/bankLedgerEntries")["value"]
    return [(b["bankAccountNumber"], b["currencyCode"], b["amount"], b["amountLcy"]) for b in rows]


def balance(api: Any, number: str) -> dict[str, Any]:
    result: dict[str, Any] = api.admin(
        "GET", f"companies/{api.company_id}/bankAccounts/{number}/balance"
    )
    return result


def balance_of(number: str, currency: str, amount: Any, lcy: Any) -> dict[str, Any]:
    """The admin balance of bank account ``number``, as the API answers it."""
    return {"number": number, "currencyCode": currency, "balance": amount, "balanceLcy": lcy}


class TestEurPaymentPosting:
    def test_eur_payment_posts_eur_bank_entry_lcy_gl_and_pays_the_eur_invoice(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        cash = foreign_banks["cash"]
        invoice = posted_invoice(api, "C20000", 100)
        assert invoice["currencyCode"] == "EUR"
        pay(api, cash, "E1", amount=Decimal("-100"), appliesToInvoiceId=invoice["id"])
        assert post(api, cash).status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert (paid["status"], paid["remainingAmount"]) == ("Paid", Decimal("0"))
        assert gl_by_account(api, kit, "E1") == {"13100": Decimal("-110"), "10200": Decimal("110")}
        assert bank_entries(api) == [("STRIPE-EUR", "EUR", Decimal("100"), Decimal("110"))]
        entries = api.admin("GET", f"companies/{api.company_id}/customerLedgerEntries")["value"]
        payment = next(e for e in entries if e["documentNumber"] == "E1")
        assert (payment["currencyCode"], payment["amount"], payment["amountLcy"]) == (
            "EUR",
            Decimal("-100"),
            Decimal("-110"),
        )
        assert payment["remaining"] == 0
        assert balance(api, "stripe-eur") == balance_of(
            "STRIPE-EUR", "EUR", Decimal("100"), Decimal("110")
        )

    def test_lcy_customer_paid_in_eur_needs_application_between_currencies(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        cash = foreign_banks["cash"]
        invoice = posted_invoice(api, "C10000", 110)
        pay(api, cash, "E2", amount=Decimal("-100"), appliesToInvoiceId=invoice["id"])
        refused = post(api, cash)
        assert refused.status_code == 400
        assert "same currency" in refused.text
        api.admin(
            "PATCH", f"companies/{api.company_id}/settings", {"applnBetweenCurrencies": "All"}
        )
        assert post(api, cash).status_code == 204
        paid = kit.loads(api.get(f"salesInvoices({invoice['id']})"))
        assert paid["status"] == "Paid"

    def test_eur_payment_to_the_lcy_bank_books_the_lcy_amount_on_the_bank(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        lcy_cash = foreign_banks["lcy_cash"]  # balanced by CHECKING (USD)
        pay(api, lcy_cash, "E3", customerNumber="C20000", amount=Decimal("-10"))
        assert post(api, lcy_cash).status_code == 204
        assert bank_entries(api) == [("CHECKING", "", Decimal("11"), Decimal("11"))]
        assert balance(api, "CHECKING") == balance_of(
            "CHECKING", "USD", Decimal("11"), Decimal("11")
        )


class TestGeneralLinesInForeignCurrency:
    def test_gl_sums_in_lcy_through_the_api_and_the_bank_keeps_eur(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        # Stripe fee in EUR taken from the EUR clearing balance, and a payout to the USD bank.
        by_stripe_eur = {"balanceAccountType": BANK, "balancingAccountNumber": "STRIPE-EUR"}
        add_lines(
            api,
            foreign_banks["plain"],
            "PO-1",
            {"accountNumber": "60100", "amount": Decimal("2.90"), **by_stripe_eur},
            bank_line("CHECKING", "97.10", **by_stripe_eur),
        )
        assert post(api, foreign_banks["plain"]).status_code == 204
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
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        add_lines(
            api,
            foreign_banks["plain"],
            "RD",
            bank_line("STRIPE-EUR", "10.045"),  # 10.05 EUR, 11.05 LCY
            {"accountType": GL, "accountNumber": "10900", "amount": Decimal("-11.05")},
        )
        assert post(api, foreign_banks["plain"]).status_code == 204
        assert gl_by_account(api, kit, "RD") == {
            "10200": Decimal("11.05"),
            "10900": Decimal("-11.05"),
        }
        assert balance(api, "STRIPE-EUR")["balance"] == Decimal("10.05")


class TestDocumentBalance:
    def test_two_lines_that_cancel_in_eur_cancel_in_lcy(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        plain = foreign_banks["plain"]
        add_lines(
            api, plain, "B1", bank_line("STRIPE-EUR", "0.05"), bank_line("STRIPE-EUR", "-0.05")
        )
        assert post(api, plain).status_code == 204

    @pytest.mark.parametrize(
        ("document", "lines", "message"),
        [
            # 0.05 EUR -> 0.055 -> 0.06 LCY twice, -0.10 EUR -> -0.11 LCY: 0.01 LCY left over.
            pytest.param(
                "B2",
                [bank_line("STRIPE-EUR", amount) for amount in ("0.05", "0.05", "-0.10")],
                "Document No. B2 is out of balance by 0.01.",
                id="a_rounding_difference_in_lcy_is_not_absorbed",
            ),
            # GBP at 0.5: +0.02 -> 0.01 LCY, -0.01 -> -0.005 -> -0.01 LCY; balanced in LCY only.
            pytest.param(
                "B3",
                [bank_line("STRIPE-GBP", amount) for amount in ("0.02", "-0.01")],
                "Document No. B3 is out of balance by 0.01 GBP.",
                id="a_one_currency_document_must_also_balance_in_its_currency",
            ),
            pytest.param(
                "B4",
                [{"accountNumber": "60100", "amount": Decimal("1234.50")}],
                "Document No. B4 is out of balance by 1,234.5.",
                id="lcy_document_message_uses_al_number_format",
            ),
        ],
    )
    def test_a_document_out_of_balance_is_refused(
        self,
        api: Any,
        kit: Any,
        foreign_banks: dict[str, str],
        document: str,
        lines: list[dict[str, Any]],
        message: str,
    ) -> None:
        add_lines(api, foreign_banks["plain"], document, *lines)
        response = post(api, foreign_banks["plain"])
        assert response.status_code == 400
        assert kit.loads(response)["error"]["code"] == "Application_DialogException"
        assert kit.error_message(response) == f"{message} {CHECK}"


class TestAdminBalance:
    def test_unknown_bank_account_is_404(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        response = api.http.get(
            f"{api.bc.admin}/companies/{api.company_id}/bankAccounts/NOPE/balance", timeout=10
        )
        assert response.status_code == 404
        assert kit.loads(response)["error"]["code"] == "Internal_RecordNotFound"

    def test_new_bank_account_has_zero_balance(
        self, api: Any, kit: Any, foreign_banks: dict[str, str]
    ) -> None:
        assert balance(api, "STRIPE-GBP") == balance_of("STRIPE-GBP", "GBP", 0, 0)


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

    @pytest.mark.parametrize(
        ("line_currency", "bank_currency", "message"),
        [
            pytest.param(
                "",
                "EUR",
                "Currency Code must be equal to ''  in Bank Account: No.=STRIPE-EUR. "
                "Current value is 'EUR'.",
                id="lcy_line_to_a_eur_bank",
            ),
            pytest.param(
                "GBP",
                "EUR",
                "Currency Code must be equal to 'EUR'  in Gen. Journal Line: Journal Template "
                "Name=GENERAL, Journal Batch Name=PAYOUT, Line No.=10000. Current value is 'GBP'.",
                id="gbp_line_to_a_eur_bank",
            ),
        ],
    )
    def test_post_bank_acc_currency_testfields_refuse(
        self, line_currency: str, bank_currency: str, message: str
    ) -> None:
        batch, bank, line = self._records(line_currency, bank_currency)
        with pytest.raises(BCError) as refused:
            bank_posting(batch, line, bank, 1)
        assert refused.value.message == message

    @pytest.mark.parametrize(
        ("bank_currency", "sign", "expected"),
        [
            pytest.param(
                "",
                -1,
                {"amount": Decimal("-11"), "amount_lcy": Decimal("-11")},
                id="eur_line_to_an_lcy_bank_books_the_lcy_amount",
            ),
            pytest.param(
                "EUR",
                1,
                {"currency_code": "EUR", "amount": Decimal("10"), "amount_lcy": Decimal("11")},
                id="eur_line_to_a_eur_bank_books_eur",
            ),
        ],
    )
    def test_post_bank_acc_currency_testfields_pass(
        self, bank_currency: str, sign: int, expected: dict[str, Any]
    ) -> None:
        batch, bank, line = self._records("EUR", bank_currency)
        entry = bank_posting(batch, line, bank, sign)
        assert {name: getattr(entry, name) for name in expected} == expected

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
