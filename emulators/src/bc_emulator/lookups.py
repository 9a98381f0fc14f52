"""Resolution of the linked-record properties BC validates on write, with BC's messages.

``currencyCode``/``currencyId`` follow the LCY rules of bc-api.md §4.5 (blank or the LCY code
store blank; anything else must be a Currency row); ``customerId``/``customerNumber`` must name
the same customer; posted invoices are found by id or number for ``appliesToInvoice*``.
"""

from __future__ import annotations

from typing import Any

from bc_emulator.edm import BLANK_GUID
from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.models import Company
from bc_emulator.models import Customer
from bc_emulator.models import SalesInvoice


def resolve_currency(company: Company, parsed: dict[str, Any], current: str) -> str:
    """Stored currency code (blank = LCY) from ``currencyCode`` / ``currencyId`` in a body."""
    code = parsed.get("currencyCode")
    currency_id = parsed.get("currencyId")
    by_id = None
    if currency_id is not None and currency_id != BLANK_GUID:
        by_id = company.currencies.get(currency_id)
        if by_id is None:
            raise dialog('The "currencyId" does not match to a Currency.')
    if code is not None:
        stored = "" if code in ("", company.lcy_code) else code
        if stored and company.currency_by_code(stored) is None:
            raise dialog('The "currencyCode" does not match to a Currency.')
        if currency_id is not None:
            id_code = by_id.values["code"] if by_id else ""
            if id_code != stored:
                raise dialog("The currency values do not match to a specific Currency.")
        return str(stored)
    if currency_id is not None:
        return str(by_id.values["code"]) if by_id else ""
    return current


def currency_id_of(company: Company, code: str) -> str:
    """``currencyId`` for a stored code (blank GUID for LCY)."""
    currency = company.currency_by_code(code) if code else None
    return currency.id if currency else BLANK_GUID


def resolve_customer(company: Company, parsed: dict[str, Any]) -> Customer | None:
    """The customer named by ``customerId`` and/or ``customerNumber`` (``None`` if neither)."""
    customer_id = parsed.get("customerId")
    number = parsed.get("customerNumber")
    by_id = by_number = None
    if customer_id is not None and customer_id != BLANK_GUID:
        by_id = company.customers.get(customer_id)
        if by_id is None:
            raise dialog('The "customerId" does not match to a Customer.')
    if number:
        by_number = company.customer_by_number(number)
        if by_number is None:
            raise dialog('The "customerNumber" does not match to a Customer.')
    if by_id and by_number and by_id is not by_number:
        raise dialog("The customer values do not match to a specific Customer.")
    return by_id or by_number


def customer_name(customer: Customer) -> str:
    """The customer's name."""
    return str(customer.values.get("displayName", ""))


def posted_invoice(company: Company, invoice_id: str | None, number: str | None) -> SalesInvoice:
    """The posted invoice a payment applies to, with BC's validation messages."""
    by_id = by_number = None
    if invoice_id is not None and invoice_id != BLANK_GUID:
        by_id = company.invoices.get(invoice_id)
        if by_id is None or not by_id.posted:
            raise dialog(
                'The "appliesToInvoiceId" should be the ID of an Open, Paid, Corrective, or '
                "Canceled Invoice."
            )
    if number:
        by_number = next(
            (inv for inv in company.invoices.values() if inv.posted and inv.number == number),
            None,
        )
        if by_number is None:
            raise dialog(
                'The "appliesToInvoiceNumber" should be the number of an Open, Paid, '
                "Corrective, or Canceled Invoice."
            )
    if by_id and by_number and by_id is not by_number:
        raise dialog("The Applies To Invoice values do not match to the same Invoice.")
    result = by_id or by_number
    assert result is not None
    return result


def duplicate_key(table: str, field: str, value: str) -> BCError:
    """409 for an insert whose primary key exists."""
    return BCError(
        409,
        "Internal_EntityWithSameKeyExists",
        f"The record in table {table} already exists. Identification fields and values: "
        f"{field}='{value}'",
    )
