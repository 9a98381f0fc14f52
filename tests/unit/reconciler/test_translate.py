"""BC invoice -> Stripe invoice command: pure translation rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from reconciler.translate import TranslationError
from reconciler.translate import days_until_due
from reconciler.translate import invoice_command

TODAY = dt.date(2026, 11, 24)


def _invoice(**overrides: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "id": "inv-1",
        "number": "103001",
        "customer_id": "cust-1",
        "customer_number": "C0001",
        "currency_code": "USD",
        "due_date": "2026-12-24",
        "discount_amount": Decimal("10.00"),
        "total_tax_amount": Decimal("19.00"),
        "total_amount_including_tax": Decimal("209.00"),
        "lines": [
            {
                "id": "l1",
                "sequence": 10000,
                "line_type": "Item",
                "description": "Consulting",
                "quantity": Decimal("2"),
                "unit_price": Decimal("75.00"),
                "amount_excluding_tax": Decimal("150.00"),
            },
            {"id": "l2", "sequence": 20000, "line_type": "Comment", "description": "Thanks"},
            {
                "id": "l3",
                "sequence": 30000,
                "line_type": "Account",
                "description": "Travel",
                "quantity": Decimal("1"),
                "unit_price": Decimal("50.00"),
                "amount_excluding_tax": Decimal("50.00"),
            },
        ],
    }
    invoice.update(overrides)
    return invoice


class TestInvoiceCommand:
    def test_one_line_per_bc_line_plus_discount_and_tax_lines_summing_to_the_total(self) -> None:
        command = invoice_command(
            _invoice(), company_id="co", stripe_customer_id="cus_1", today=TODAY
        )
        amounts = [line["amount_minor"] for line in command["lines"]]
        assert amounts == [15000, 5000, -1000, 1900]
        assert sum(amounts) == command["expected_total_minor"] == 20900
        assert command["lines"][0]["description"] == "Consulting (2 x 75.00)"
        assert command["currency"] == "usd"
        assert command["days_until_due"] == 30
        assert command["metadata"] == {
            "bc_company_id": "co",
            "bc_invoice_id": "inv-1",
            "bc_invoice_number": "103001",
            "bc_customer_number": "C0001",
            "bc_customer_id": "cust-1",
        }

    def test_zero_decimal_currency_is_in_whole_units(self) -> None:
        invoice = _invoice(
            currency_code="JPY",
            discount_amount=Decimal("0"),
            total_tax_amount=Decimal("0"),
            total_amount_including_tax=Decimal("15500"),
            lines=[
                {
                    "id": "l1",
                    "line_type": "Item",
                    "description": "Work",
                    "quantity": 1,
                    "unit_price": Decimal("15500"),
                    "amount_excluding_tax": Decimal("15500"),
                },
            ],
        )
        command = invoice_command(invoice, company_id="co", stripe_customer_id="cus_1", today=TODAY)
        assert [line["amount_minor"] for line in command["lines"]] == [15500]

    def test_three_decimal_currency_is_exact(self) -> None:
        invoice = _invoice(
            currency_code="KWD",
            discount_amount=Decimal("0"),
            total_tax_amount=Decimal("0"),
            total_amount_including_tax=Decimal("12.340"),
            lines=[
                {
                    "id": "l1",
                    "line_type": "Item",
                    "description": "Work",
                    "quantity": 1,
                    "unit_price": Decimal("12.340"),
                    "amount_excluding_tax": Decimal("12.340"),
                },
            ],
        )
        command = invoice_command(invoice, company_id="co", stripe_customer_id="cus_1", today=TODAY)
        assert command["expected_total_minor"] == 12340

    def test_a_total_that_the_lines_do_not_reach_names_both_figures(self) -> None:
        with pytest.raises(TranslationError) as info:
            invoice_command(
                _invoice(total_amount_including_tax=Decimal("209.01")),
                company_id="co",
                stripe_customer_id="cus_1",
                today=TODAY,
            )
        assert "209.00 USD" in str(info.value)
        assert "209.01 USD" in str(info.value)

    def test_an_amount_finer_than_the_currency_allows_is_an_error_not_a_rounding(self) -> None:
        invoice = _invoice(currency_code="JPY", total_amount_including_tax=Decimal("1.5"))
        with pytest.raises(TranslationError, match="JPY"):
            invoice_command(invoice, company_id="co", stripe_customer_id="cus_1", today=TODAY)

    def test_unknown_currency_and_float_amounts_are_refused(self) -> None:
        with pytest.raises(TranslationError, match="XYZ"):
            invoice_command(
                _invoice(currency_code="XYZ"), company_id="co", stripe_customer_id="c", today=TODAY
            )
        with pytest.raises(TranslationError, match="exact"):
            invoice_command(
                _invoice(total_tax_amount=19.0),
                company_id="co",
                stripe_customer_id="c",
                today=TODAY,
            )


class TestDaysUntilDue:
    @pytest.mark.parametrize(
        ("due", "days"),
        [("2026-12-04", 10), ("2026-11-24", 0), ("2026-11-01", 0), ("0001-01-01", 0), (None, 0)],
    )
    def test_days_from_today_never_negative(self, due: str | None, days: int) -> None:
        assert days_until_due(due, TODAY) == days
