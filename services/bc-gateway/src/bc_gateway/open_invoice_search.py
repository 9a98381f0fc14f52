"""Open sales invoices a payment may pay: the search behind ``GET /commands/invoices/open``.

A Stripe payment the connector could not match is resolved by a clerk, who picks the BC invoice
it pays from ranked suggestions (ARCHITECTURE.md §9; the ranking is the reconciler's). This reads
the candidates: ``salesInvoices`` with ``status eq 'Open'``, narrowed by what BC can filter on,
then checked here for what it cannot.

What BC filters on is decided by the API page, not by the field list: only properties bound to
a field of the source table "Sales Invoice Entity Aggregate" reach the database filter
(microsoft/BCApps, ``Apps/W1/APIV2/app/src/pages/APIV2SalesInvoices.Page.al``, page 30012
"APIV2 - Sales Invoices"). ``number`` ("No."), ``customerNumber`` ("Sell-to Customer No."),
``customerName`` ("Sell-to Customer Name"), ``email`` ("Sell-to E-Mail"), ``currencyId``
("Currency Id"), ``totalAmountIncludingTax`` ("Amount Including VAT"), ``invoiceDate``
("Document Date"), ``dueDate`` and ``status`` are such fields. ``currencyCode``
(``CurrencyCodeTxt``) and ``remainingAmount`` (``RemainingAmountVar``) are page variables the
page computes per record in ``OnAfterGetRecord``, so no filter reaches them. Hence:

- a currency is filtered through ``currencyId``: the blank GUID for the local currency (an LCY
  document's Currency Code is blank, bc-api.md §4.5), else the id of its ``currencies`` row; the
  rows answer with the ISO code, the LCY code for LCY invoices, as every other command does;
- an amount is narrowed with ``totalAmountIncludingTax ge <amount>`` (what is still open never
  exceeds the total) and matched exactly on ``remainingAmount`` here;
- an e-mail is matched with ``eq`` (BC's own look-up, bc-api.md §11), as given and lower-cased
  (``or`` on one field is allowed), not with ``tolower``: BC turns that into a case-insensitive
  AL filter, whose marker is ``@``, and how it reads the address's own ``@`` is unverified;
- every row is checked here again against every criterion, so a filter BC applies more loosely
  never widens the answer.

``q`` is one text for three things, an invoice number prefix, a customer number or part of the
customer name, and BC refuses ``or`` across different fields (bc-api.md §6.1), so each reading is
its own query and the answers are merged by id: ``startswith(number,'Q')`` and
``customerNumber eq 'Q'`` (Code values, upper-cased, tried only when ``q`` can be one), and
``contains(tolower(customerName),'q')``, a nested call BC takes only with
``$schemaversion=2.1`` (dev-itpro/webservices/use-filter-expressions-in-odata-uris.md).

Cost, within the gateway's paced and retrying client like every other command: the local
currency (cached), at most one ``currencies`` read, and per reading of ``q`` at most
``SCAN_LIMIT / SCAN_PAGE`` pages. Rows come by due date, then number; ``more`` says the answer
may leave matches out (more than ``top`` matched, or the scan stopped at ``SCAN_LIMIT`` rows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.odata import odata_string
from bc_gateway.services import BLANK_GUID
from bc_gateway.services import LocalCurrency
from bc_gateway.services import amount
from bc_gateway.services import currency_or_lcy
from bc_gateway.services import date_value
from bc_gateway.services import decode_enum
from bc_gateway.services import encode_enum
from mlconnector import validators

OPEN = "Open"
SELECT = (
    "id,number,customerNumber,customerName,email,currencyCode,totalAmountIncludingTax,"
    "remainingAmount,invoiceDate,dueDate,status"
)
ORDER_BY = "dueDate,number"
#: The schema version BC needs for a nested call such as ``contains(tolower(x),'y')``.
NESTED_CALLS_SCHEMA = "2.1"
#: Page size when rows are checked here for what BC cannot filter (the remaining amount).
SCAN_PAGE = 500
#: The most rows one reading of ``q`` reads before answering with what it found.
SCAN_LIMIT = 1000
DEFAULT_TOP = 20
MAX_TOP = 50

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclasses.dataclass(frozen=True)
class OpenInvoiceQuery:
    """What to look for; ``None`` leaves a criterion out. ``currency`` is upper-case ISO."""

    q: str | None = None
    customer_email: str | None = None
    currency: str | None = None
    amount: Decimal | None = None
    top: int = DEFAULT_TOP


@dataclasses.dataclass(frozen=True)
class _Reading:
    """One reading of ``q``: its BC clause, the query options it needs, the same test here."""

    clause: str | None
    matches: Callable[[Entity], bool]
    schema_version: str | None = None


def search(bc: BCClient, lcy: LocalCurrency, query: OpenInvoiceQuery) -> dict[str, Any]:
    """``{"value": rows, "count": n, "more": bool}``: the first ``top`` matches by due date."""
    lcy_code = lcy.code(bc)
    clauses = [f"status eq {odata_string(encode_enum(OPEN))}"]
    if query.currency is not None:
        currency_id = _currency_id(bc, query.currency, lcy_code)
        if currency_id is None:  # BC has no such currency, so no invoice can be in it
            return {"value": [], "count": 0, "more": False}
        clauses.append(f"currencyId eq {currency_id}")
    if query.customer_email is not None:
        clauses.append(_email_clause(query.customer_email))
    if query.amount is not None:
        clauses.append(f"totalAmountIncludingTax ge {_number(query.amount)}")
    found: dict[str, dict[str, Any]] = {}
    more = False
    for reading in _readings(query.q):
        rows, cut = _scan(bc, clauses, reading, query, lcy_code)
        more = more or cut
        for row in rows:
            found.setdefault(row["id"], row)
    ordered = sorted(found.values(), key=_by_due_date)
    value = ordered[: query.top]
    return {"value": value, "count": len(value), "more": more or len(ordered) > query.top}


def open_invoice_view(invoice: Entity, lcy_code: str) -> dict[str, Any]:
    """One row of the answer: what a clerk needs to recognise the invoice."""
    return {
        "id": invoice["id"],
        "number": invoice.get("number") or "",
        "customer_number": invoice.get("customerNumber") or "",
        "customer_name": invoice.get("customerName") or "",
        "customer_email": invoice.get("email") or "",
        "currency": currency_or_lcy(invoice.get("currencyCode"), lcy_code),
        "total_amount": amount(invoice.get("totalAmountIncludingTax", 0)),
        "remaining_amount": amount(invoice.get("remainingAmount", 0)),
        "invoice_date": date_value(invoice.get("invoiceDate")),
        "due_date": date_value(invoice.get("dueDate")),
    }


def _scan(
    bc: BCClient,
    clauses: list[str],
    reading: _Reading,
    query: OpenInvoiceQuery,
    lcy_code: str,
) -> tuple[list[dict[str, Any]], bool]:
    """The rows one reading finds, and whether it stopped before reading every candidate.

    One more row than ``top`` is enough to know there are more; when every criterion is a BC
    filter, that is also the page size, so the usual search is one request.
    """
    where = [*clauses, reading.clause] if reading.clause else clauses
    options = {"$filter": " and ".join(where), "$select": SELECT, "$orderby": ORDER_BY}
    if reading.schema_version is not None:
        options["$schemaversion"] = reading.schema_version
    wanted = query.top + 1
    page_size = SCAN_PAGE if query.amount is not None else wanted
    rows: list[dict[str, Any]] = []
    read = 0
    for page in bc.pages(bc.company_path("salesInvoices"), options, page_size=page_size):
        for invoice in page:
            read += 1
            if reading.matches(invoice) and _meets(invoice, query, lcy_code):
                rows.append(open_invoice_view(invoice, lcy_code))
                if len(rows) == wanted:
                    return rows, True
        if read >= SCAN_LIMIT:
            return rows, True
    return rows, False


def _meets(invoice: Entity, query: OpenInvoiceQuery, lcy_code: str) -> bool:
    """The criteria checked on the row itself (the BC filter narrowed, this decides)."""
    email = query.customer_email
    return (
        decode_enum(invoice.get("status")) == OPEN
        and (
            query.currency is None
            or currency_or_lcy(invoice.get("currencyCode"), lcy_code) == query.currency
        )
        and (email is None or _text(invoice, "email").lower() == email.lower())
        and (query.amount is None or amount(invoice.get("remainingAmount", 0)) == query.amount)
    )


def _readings(q: str | None) -> list[_Reading]:
    """How BC is asked for ``q``: one query per field it may name (no ``or`` across fields)."""
    if q is None:
        return [_Reading(None, lambda _: True)]
    readings = []
    if _is_code(q, validators.INVOICE_NUMBER):
        number = q.upper()
        readings.append(
            _Reading(
                f"startswith(number,{odata_string(number)})",
                lambda row: _text(row, "number").upper().startswith(number),
            )
        )
    if _is_code(q, validators.CUSTOMER_NUMBER):
        customer = q.upper()
        readings.append(
            _Reading(
                f"customerNumber eq {odata_string(customer)}",
                lambda row: _text(row, "customerNumber").upper() == customer,
            )
        )
    name = q.lower()
    readings.append(
        _Reading(
            f"contains(tolower(customerName),{odata_string(name)})",
            lambda row: name in _text(row, "customerName").lower(),
            schema_version=NESTED_CALLS_SCHEMA,
        )
    )
    return readings


def _is_code(text: str, max_length: int) -> bool:
    """Whether ``text`` can be a BC Code value the connector filters on (``validators``)."""
    try:
        validators.check_code(text, max_length=max_length)
    except ValidationError:
        return False
    return True


def _currency_id(bc: BCClient, currency: str, lcy_code: str) -> str | None:
    """``currencyId`` of invoices in ``currency``: blank for LCY, else the Currency row's id."""
    if currency == lcy_code:
        return BLANK_GUID
    found = bc.get(
        bc.company_path("currencies"),
        {"$filter": f"code eq {odata_string(currency)}", "$select": "id,code"},
    )
    rows = found.get("value") or []
    if not rows:
        return None
    currency_id = str(rows[0].get("id") or "")
    if not _GUID.fullmatch(currency_id):
        raise BCPermanentError(None, "", f"BC returned currency {currency} without an id")
    return currency_id.lower()


def _email_clause(email: str) -> str:
    """The address as given, and lower-cased: ``eq`` is exact, and case-sensitive in BC."""
    spellings = dict.fromkeys((email, email.lower()))
    return "(" + " or ".join(f"email eq {odata_string(s)}" for s in spellings) + ")"


def _number(value: Decimal) -> str:
    """An Edm.Decimal literal: plain digits, never an exponent."""
    return format(value, "f")


def _text(row: Entity, name: str) -> str:
    return str(row.get(name) or "")


def _by_due_date(row: dict[str, Any]) -> tuple[dt.date, str, str]:
    due: dt.date | None = row["due_date"]
    return (due or dt.date.max, row["number"], row["id"])
