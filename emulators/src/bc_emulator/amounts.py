"""Exact sales-document arithmetic: line amounts, invoice-discount allocation, tax, LCY.

Invoices and credit memos use the same rules (both API line pages read "Sales Invoice Line
Aggregate", and both headers take ``discountAmount`` through "Sales - Calc Discount By Type"
``ApplyInvDiscBasedOnAmt``), so everything here takes a :class:`SalesDocument`.

All values are :class:`~decimal.Decimal` rounded half-up to the document currency's amount
precision (``amountDecimalPlaces`` ``"2:2"`` -> 2 places; LCY uses 2). The invoice discount is
allocated to lines in proportion to their amounts, the last line taking the rounding remainder,
so the header totals always equal the sum of the lines to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal

from bc_emulator.errors import dialog
from bc_emulator.models import Company
from bc_emulator.models import SalesDocument
from bc_emulator.models import SalesInvoiceLine

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def decimals_for(company: Company, currency_code: str) -> int:
    """Amount decimal places of a document currency (blank = LCY = 2)."""
    currency = company.currency_by_code(currency_code) if currency_code else None
    if currency is None:
        return 2
    places = str(currency.values.get("amountDecimalPlaces") or "2:2")
    try:
        return int(places.split(":")[-1])
    except ValueError:
        return 2


def round_to(value: Decimal, places: int) -> Decimal:
    """Round half-up to ``places`` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def exchange_rate(company: Company, currency_code: str) -> Decimal:
    """LCY per unit of ``currency_code`` (1 for the LCY)."""
    currency = company.currency_by_code(currency_code) if currency_code else None
    return currency.exchange_rate if currency is not None else Decimal(1)


def to_lcy(company: Company, currency_code: str, amount: Decimal) -> Decimal:
    """Convert a document-currency amount to LCY at the currency's exchange rate."""
    return round_to(amount * exchange_rate(company, currency_code), 2)


@dataclass(frozen=True)
class LineAmounts:
    """Derived amounts of one invoice line."""

    amount_excluding_tax: Decimal
    tax_percent: Decimal
    total_tax_amount: Decimal
    amount_including_tax: Decimal
    invoice_discount_allocation: Decimal
    net_amount: Decimal
    net_tax_amount: Decimal
    net_amount_including_tax: Decimal


@dataclass(frozen=True)
class InvoiceTotals:
    """Header totals plus per-line amounts keyed by line id."""

    lines: dict[str, LineAmounts]
    total_excluding_tax: Decimal
    total_tax: Decimal
    total_including_tax: Decimal


def line_amount(line: SalesInvoiceLine, places: int) -> Decimal:
    """Quantity x unit price minus the line discount (amount or percent)."""
    gross = line.quantity * line.unit_price
    discount = line.discount_amount or gross * line.discount_percent / HUNDRED
    return round_to(gross - discount, places)


def compute_totals(company: Company, invoice: SalesDocument) -> InvoiceTotals:
    """Totals of an invoice or credit memo, cached per record version."""
    cached = invoice.totals_cache
    if cached is not None and cached[0] == invoice.version:
        totals: InvoiceTotals = cached[1]
        return totals
    places = decimals_for(company, invoice.currency_code)
    amounts = {line.id: line_amount(line, places) for line in invoice.lines}
    base = sum(amounts.values(), ZERO)
    allocations = _allocate(invoice.discount_amount, amounts, base, places)
    per_line: dict[str, LineAmounts] = {}
    for line in invoice.lines:
        amount = amounts[line.id]
        pct = line.tax_percent
        tax = round_to(amount * pct / HUNDRED, places)
        net = amount - allocations[line.id]
        net_tax = round_to(net * pct / HUNDRED, places)
        per_line[line.id] = LineAmounts(
            amount_excluding_tax=amount,
            tax_percent=pct,
            total_tax_amount=tax,
            amount_including_tax=amount + tax,
            invoice_discount_allocation=allocations[line.id],
            net_amount=net,
            net_tax_amount=net_tax,
            net_amount_including_tax=net + net_tax,
        )
    total_net = sum((a.net_amount for a in per_line.values()), ZERO)
    total_tax = sum((a.net_tax_amount for a in per_line.values()), ZERO)
    totals = InvoiceTotals(per_line, total_net, total_tax, total_net + total_tax)
    invoice.totals_cache = (invoice.version, totals)
    return totals


def _allocate(
    discount: Decimal, amounts: dict[str, Decimal], base: Decimal, places: int
) -> dict[str, Decimal]:
    allocations = dict.fromkeys(amounts, ZERO)
    if not discount:
        return allocations
    if discount < 0 or discount > base:
        raise dialog(
            f"The invoice discount amount {discount} cannot be greater than the invoice amount "
            f"{base}."
        )
    remaining = discount
    keys = [key for key, value in amounts.items() if value]
    for index, key in enumerate(keys):
        if index == len(keys) - 1:
            share = remaining
        else:
            share = round_to(discount * amounts[key] / base, places)
        allocations[key] = share
        remaining -= share
    return allocations


def check_discount(company: Company, invoice: SalesDocument, discount: Decimal) -> None:
    """Raise the BC-style dialog error when a document's invoice discount cannot be applied."""
    places = decimals_for(company, invoice.currency_code)
    base = sum((line_amount(line, places) for line in invoice.lines), ZERO)
    _allocate(
        discount, {line.id: line_amount(line, places) for line in invoice.lines}, base, places
    )
