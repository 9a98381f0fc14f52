"""Read use cases of the command API: invoices with lines and customer, invoice lists, customers.

The reconciler asks for authoritative BC state here (notifications are only hints). Results are
plain dicts in the gateway's own snake_case vocabulary, which ``api.schemas`` dumps: amounts stay
``Decimal`` (the client parses BC's JSON with ``parse_float=Decimal``), enums are decoded from
BC's XML encoding (``In_x0020_Review`` -> ``In Review``), and a blank currency code becomes the
company's local currency (LCY) code from ``companyInformation`` (or ``generalLedgerSetup``), as
bc-api.md §4.5 prescribes for comparing currencies.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.enums import decode_enum as decode_enum
from bc_gateway.enums import encode_enum as encode_enum
from bc_gateway.notifications import parse_timestamp
from bc_gateway.observe import modified_filter

BLANK_GUID = "00000000-0000-0000-0000-000000000000"
INVOICE_STATUSES = ("Draft", "In Review", "Open", "Paid", "Canceled", "Corrective")


def amount(value: object) -> Decimal:
    """A BC amount (int or Decimal on the wire) as Decimal; floats never get here."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise BCPermanentError(None, "", f"BC returned a non-numeric amount: {value!r}")
    return Decimal(value)


def date_value(value: object) -> dt.date | None:
    """A BC date; the blank date ``0001-01-01`` is None."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return dt.date.fromisoformat(value[:10])


class LocalCurrency:
    """The company's LCY code, read once an hour (it changes only with a new ledger setup)."""

    def __init__(self, ttl_s: float = 3600.0) -> None:
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[float, str]] = {}

    def code(self, bc: BCClient, company_id: str | None = None) -> str:
        company = company_id or bc.company_id
        with self._lock:
            cached = self._codes.get(company)
        if cached and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        info = bc.get(bc.company_path("companyInformation", company)).get("value") or [{}]
        code = str(info[0].get("currencyCode") or "")
        if not code:
            setup = bc.get(bc.company_path("generalLedgerSetup", company)).get("value") or [{}]
            code = str(setup[0].get("localCurrencyCode") or "")
        if not code:
            raise BCPermanentError(None, "", "BC reports no local currency code for the company")
        with self._lock:
            self._codes[company] = (time.monotonic(), code.upper())
        return code.upper()


def timestamp_or_none(value: object) -> dt.datetime | None:
    return parse_timestamp(value) if isinstance(value, str) and value else None


def currency_or_lcy(value: object, lcy: str) -> str:
    return str(value).upper() if value else lcy


def customer_view(customer: Entity, lcy: str) -> dict[str, Any]:
    """The customer fields the reconciler uses."""
    return {
        "id": customer["id"],
        "number": customer.get("number") or "",
        "name": customer.get("displayName") or "",
        "email": customer.get("email") or "",
        "currency_code": currency_or_lcy(customer.get("currencyCode"), lcy),
        "blocked": decode_enum(customer.get("blocked")).strip(),
        "last_modified": timestamp_or_none(customer.get("lastModifiedDateTime")),
    }


def invoice_view(invoice: Entity, lcy: str) -> dict[str, Any]:
    """Header fields of a sales invoice."""
    return {
        "id": invoice["id"],
        "number": invoice.get("number") or "",
        "external_document_number": invoice.get("externalDocumentNumber") or "",
        "status": decode_enum(invoice.get("status")),
        "invoice_date": date_value(invoice.get("invoiceDate")),
        "posting_date": date_value(invoice.get("postingDate")),
        "due_date": date_value(invoice.get("dueDate")),
        "customer_id": invoice.get("customerId") or BLANK_GUID,
        "customer_number": invoice.get("customerNumber") or "",
        "customer_name": invoice.get("customerName") or "",
        "currency_code": currency_or_lcy(invoice.get("currencyCode"), lcy),
        "prices_include_tax": bool(invoice.get("pricesIncludeTax")),
        "discount_amount": amount(invoice.get("discountAmount", 0)),
        "total_amount_excluding_tax": amount(invoice.get("totalAmountExcludingTax", 0)),
        "total_tax_amount": amount(invoice.get("totalTaxAmount", 0)),
        "total_amount_including_tax": amount(invoice.get("totalAmountIncludingTax", 0)),
        "remaining_amount": amount(invoice.get("remainingAmount", 0)),
        "last_modified": timestamp_or_none(invoice.get("lastModifiedDateTime")),
    }


def line_view(line: Entity) -> dict[str, Any]:
    """One sales invoice line."""
    return {
        "id": line["id"],
        "sequence": line.get("sequence"),
        "line_type": decode_enum(line.get("lineType")),
        "line_object_number": line.get("lineObjectNumber") or "",
        "description": line.get("description") or "",
        "quantity": amount(line.get("quantity", 0)),
        "unit_price": amount(line.get("unitPrice", 0)),
        "discount_amount": amount(line.get("discountAmount", 0)),
        "discount_percent": amount(line.get("discountPercent", 0)),
        "amount_excluding_tax": amount(line.get("amountExcludingTax", 0)),
        "tax_percent": amount(line.get("taxPercent", 0)),
        "total_tax_amount": amount(line.get("totalTaxAmount", 0)),
        "amount_including_tax": amount(line.get("amountIncludingTax", 0)),
    }


def get_customer(bc: BCClient, lcy: LocalCurrency, customer_id: str) -> dict[str, Any]:
    """One customer (404 ``BCNotFound`` if BC has none with that id)."""
    customer = bc.get(bc.company_path(f"customers({customer_id})"))
    return customer_view(customer, lcy.code(bc))


def get_invoice(bc: BCClient, lcy: LocalCurrency, invoice_id: str) -> dict[str, Any]:
    """A sales invoice with its lines and its customer."""
    invoice = bc.get(
        bc.company_path(f"salesInvoices({invoice_id})"),
        {"$expand": "salesInvoiceLines,customer"},
    )
    code = lcy.code(bc)
    view = invoice_view(invoice, code)
    lines = invoice.get("salesInvoiceLines") or []
    view["lines"] = [line_view(line) for line in sorted(lines, key=sequence_of)]
    customer = invoice.get("customer")
    if not isinstance(customer, dict):
        customer = _customer_of(bc, invoice)  # no customerId on the invoice: by number
    view["customer"] = customer_view(customer, code)
    return view


def sequence_of(line: Entity) -> int:
    value = line.get("sequence")
    return value if isinstance(value, int) else 0


def _customer_of(bc: BCClient, invoice: Entity) -> Entity:
    customer_id = invoice.get("customerId")
    if customer_id and customer_id != BLANK_GUID:
        return bc.get(bc.company_path(f"customers({customer_id})"))
    number = str(invoice.get("customerNumber") or "").replace("'", "''")
    found = bc.get(bc.company_path("customers"), {"$filter": f"number eq '{number}'"})
    value = found.get("value") or []
    if not value:
        raise BCPermanentError(None, "", f"invoice {invoice.get('id')} names no known customer")
    customer: Entity = value[0]
    return customer


def list_invoices(
    bc: BCClient,
    lcy: LocalCurrency,
    *,
    status: str | None,
    modified_since: dt.datetime | None,
) -> list[dict[str, Any]]:
    """Every invoice matching the filters, through all pages (headers only)."""
    filter_text = modified_filter(
        modified_since, status=encode_enum(status) if status is not None else None
    )
    query = {"$filter": filter_text} if filter_text else None
    code = lcy.code(bc)
    return [
        invoice_view(invoice, code)
        for page in bc.pages(bc.company_path("salesInvoices"), query)
        for invoice in page
    ]
