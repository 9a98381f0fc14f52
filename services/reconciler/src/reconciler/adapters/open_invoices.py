"""bc-gateway's open-invoice search, typed: the query the reconciler sends, the rows it gets.

``GET /commands/invoices/open`` answers JSON with amounts as decimal strings and dates as ISO
strings; these dataclasses hold them as ``Decimal`` and ``date``, so the ranking of suggestions
(``reconciler.suggestions``) works on exact money and real dates and never sees a float. The
module does no I/O: ``HttpBcGateway.search_open_invoices`` sends the query and reads the answer
with ``parse_open_invoices``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

#: The gateway's bounds on ``top`` (``bc_gateway.open_invoice_search``).
DEFAULT_TOP = 20
MAX_TOP = 50


class MalformedAnswer(ValueError):
    """The gateway's answer does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class OpenInvoiceQuery:
    """What to look for; ``None`` leaves a criterion out, and the criteria combine with *and*.

    ``q`` is an invoice number prefix, a customer number or part of a customer name; ``amount``
    is the remaining amount in ``currency``, matched exactly.
    """

    q: str | None = None
    customer_email: str | None = None
    currency: str | None = None
    amount: Decimal | None = None
    top: int = DEFAULT_TOP

    def params(self) -> dict[str, str]:
        """The query string the gateway reads (its parameter names)."""
        params = {"top": str(self.top)}
        if self.q is not None:
            params["q"] = self.q
        if self.customer_email is not None:
            params["customerEmail"] = self.customer_email
        if self.currency is not None:
            params["currency"] = self.currency.upper()
        if self.amount is not None:
            params["amount"] = format(self.amount, "f")
        return params


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An Open BC sales invoice; amounts are in ``currency`` (upper-case ISO, never blank)."""

    id: str
    number: str
    customer_number: str
    customer_name: str
    customer_email: str
    currency: str
    total_amount: Decimal
    remaining_amount: Decimal
    invoice_date: dt.date | None = None
    due_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class OpenInvoices:
    """The matches by due date; ``more``: the gateway may have left some out (refine the query)."""

    invoices: tuple[OpenInvoice, ...]
    more: bool


def parse_open_invoices(body: Mapping[str, Any]) -> OpenInvoices:
    """The gateway's answer as dataclasses; ``MalformedAnswer`` names what does not fit."""
    rows = body.get("value")
    if not isinstance(rows, list):
        raise MalformedAnswer("no value[] list")
    return OpenInvoices(
        invoices=tuple(_invoice(row, index) for index, row in enumerate(rows)),
        more=body.get("more") is True,
    )


def _invoice(row: object, index: int) -> OpenInvoice:
    if not isinstance(row, Mapping):
        raise MalformedAnswer(f"value[{index}] is not an object")
    where = f"value[{index}]"
    return OpenInvoice(
        id=_text(row, "id", where),
        number=_text(row, "number", where),
        customer_number=_text(row, "customer_number", where),
        customer_name=_text(row, "customer_name", where),
        customer_email=_text(row, "customer_email", where),
        currency=_text(row, "currency", where).upper(),
        total_amount=_decimal(row, "total_amount", where),
        remaining_amount=_decimal(row, "remaining_amount", where),
        invoice_date=_date(row, "invoice_date", where),
        due_date=_date(row, "due_date", where),
    )


def _text(row: Mapping[str, Any], name: str, where: str) -> str:
    value = row.get(name, "")
    if not isinstance(value, str):
        raise MalformedAnswer(f"{where}.{name} is not a string")
    return value


def _decimal(row: Mapping[str, Any], name: str, where: str) -> Decimal:
    value = row.get(name)
    if not isinstance(value, str):  # the gateway writes amounts as strings, never numbers
        raise MalformedAnswer(f"{where}.{name} is not a decimal string")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise MalformedAnswer(f"{where}.{name} is not a decimal: {value!r}") from None
    if not parsed.is_finite():
        raise MalformedAnswer(f"{where}.{name} is not finite")
    return parsed


def _date(row: Mapping[str, Any], name: str, where: str) -> dt.date | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise MalformedAnswer(f"{where}.{name} is not a date: {value!r}") from None
