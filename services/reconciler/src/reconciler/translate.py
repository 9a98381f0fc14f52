"""BC sales invoice -> Stripe invoice command: the translation rules, as pure functions.

The input is the bc-gateway's invoice read (snake_case fields, amounts as decimal strings).

One Stripe line per BC line (comment lines carry no amount and are skipped), the invoice
discount and the tax as lines of their own when BC has them, everything in the invoice
currency's minor units through ``mlconnector.money`` (exact or an error, never rounded). The sum
of the lines must equal BC's total including tax in minor units; when it does not, the
invoice is not pushed and the error names both figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mlconnector.bus import PermanentError
from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from mlconnector.money import normalize_currency
from mlconnector.money import to_minor

SKIPPED_LINE_TYPES = {"Comment", "_x0020_", ""}


class TranslationError(PermanentError):
    """The BC invoice cannot become a Stripe invoice as it stands; the message says why."""


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except ArithmeticError as exc:
            raise TranslationError(f"{field} is not a number: {value!r}") from exc
    raise TranslationError(f"{field} is not an exact number: {value!r}")


def _minor(value: Any, currency: str, field: str) -> int:
    try:
        return to_minor(_decimal(value, field), currency)
    except MoneyError as exc:
        raise TranslationError(f"{field}: {exc}") from exc


def days_until_due(due_date: str | None, today: dt.date) -> int:
    """Days from today to the BC due date (0 when it is blank, today or past)."""
    if not due_date or str(due_date).startswith("0001-01-01"):
        return 0
    return max(0, (dt.date.fromisoformat(str(due_date)[:10]) - today).days)


def invoice_command(
    invoice: Mapping[str, Any], *, company_id: str, stripe_customer_id: str, today: dt.date
) -> dict[str, Any]:
    """The stripe-gateway ``create invoice`` command for a BC invoice (with lines)."""
    try:
        currency = normalize_currency(str(invoice.get("currency_code") or ""))
    except MoneyError as exc:
        raise TranslationError(f"BC invoice {invoice.get('number')}: {exc}") from exc
    number = str(invoice["number"])
    lines: list[dict[str, Any]] = []
    for line in invoice.get("lines", []):
        if str(line.get("line_type", "")) in SKIPPED_LINE_TYPES:
            continue
        amount = _minor(
            line.get("amount_excluding_tax", 0), currency, f"line {line.get('sequence')}"
        )
        description = str(line.get("description") or line.get("line_object_number") or "Line")
        quantity = _decimal(line.get("quantity", 1), "quantity")
        unit_price = _decimal(line.get("unit_price", 0), "unit_price")
        if quantity != 1:
            description = f"{description} ({quantity.normalize():f} x {unit_price:f})"
        lines.append(
            {
                "description": description[:500],
                "amount_minor": amount,
                "metadata": {"bc_line_id": str(line.get("id", ""))},
            }
        )
    discount = _minor(invoice.get("discount_amount", 0), currency, "discount_amount")
    if discount:
        lines.append({"description": "Invoice discount", "amount_minor": -discount, "metadata": {}})
    tax = _minor(invoice.get("total_tax_amount", 0), currency, "total_tax_amount")
    if tax:
        lines.append({"description": "Tax", "amount_minor": tax, "metadata": {}})
    total = _minor(
        invoice.get("total_amount_including_tax", 0), currency, "total_amount_including_tax"
    )
    lines_total = sum(line["amount_minor"] for line in lines)
    if lines_total != total:
        raise TranslationError(
            f"BC invoice {number}: the lines add up to {format_amount(lines_total, currency)} "
            f"but BC's total including tax is {format_amount(total, currency)}"
        )
    if not lines:
        raise TranslationError(f"BC invoice {number} has no lines with an amount")
    customer_number = str(invoice.get("customer_number") or "")
    metadata = {
        "bc_company_id": company_id,
        "bc_invoice_id": str(invoice["id"]),
        "bc_invoice_number": number,
        "bc_customer_number": customer_number,
        "bc_customer_id": str(invoice.get("customer_id") or ""),
    }
    return {
        "bc_company_id": company_id,
        "bc_invoice_id": str(invoice["id"]),
        "bc_invoice_number": number,
        "bc_customer_number": customer_number,
        "stripe_customer_id": stripe_customer_id,
        "currency": currency,
        "days_until_due": days_until_due(invoice.get("due_date"), today),
        "metadata": metadata,
        "lines": lines,
        "expected_total_minor": total,
    }
