"""Who paid an unmatched payment, kept on its record so the console's search finds it (issue 12).

An unmatched payment (one that names no BC invoice) is the queue's most common item, and the
clerk looking for it knows the payer: "Fabrikam", ap@fabrikam.com. The record did not say: the
charge's Stripe ``customer``, ``billing_details`` (name, e-mail) and ``receipt_email`` were in
hand while the payment was handled (the charge read, or the event's charge) and then dropped.
Now, when a payment is marked unmatched (``handlers.postings.unmatched``), they are kept in the
record's flags under ``payer``, small and bounded::

    {"customer": "cus_…", "email": "ap@fabrikam.com", "name": "fabrikam inc"}

The e-mail and name in ``CustomerLink.search_key`` form (case-folded, cut to the customer
link's column sizes, 320 and 255), the customer id as Stripe wrote it (at most 255); absent
facts are left out, so a charge with no payer details adds nothing.

Why flags, and not a new column of ``sync_records``: the facts matter only while the payment
waits for a person, and those records are already one index range, ``attention = 'unmatched'``
of the ``(attention, id)`` index the queue pages over. The search (``console.queue_data``) reads
that range only: the clerk's backlog of unmatched items, which shrinks as they are resolved or
marked handled, never the table's history (about 2,000 rows read in 4-7 ms on the benchmark's
100,000 records). An indexed column would make that a lookup, but it would sit on the largest
table, NULL on nearly every row, to serve a set that small. In the range each fact is compared
whole, never with LIKE: the e-mail and the name as typed (folded alike), the Stripe customer id
as typed, and the customer id and e-mail against those of the customers the search named (part
of a name, a number, an e-mail, read from ``customer_links``), so "Fabrikam" also finds a
payment whose payer is the Stripe customer, or has the e-mail, of the BC customer named
Fabrikam. Part of a name is looked for in ``customer_links`` only (one row per customer): a
payer who is no linked customer is found by e-mail or by whole name. And the range is not
read at all for text that can name no payer (a digit in it, no "@", no ``cus_`` prefix, no
customer named): an invoice number or a Stripe id costs what it did before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import String
from sqlalchemy import type_coerce

from reconciler.models import CustomerLink
from reconciler.models import SyncRecord

FLAG = "payer"
MAX_ID = 255


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _customer_id(value: Any) -> str | None:
    """A Stripe customer id, whether the object names it or embeds the customer."""
    if isinstance(value, Mapping):
        value = value.get("id")
    found = _text(value)
    return found.strip()[:MAX_ID] if found else None


def payer_of(
    charge: Mapping[str, Any] | None, invoice: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The payer facts of a charge (and of the Stripe invoice it paid), in the stored form.

    The charge's billing details say who paid; its receipt e-mail and the invoice's customer
    stand in where they are empty (a payment link may leave the billing e-mail blank).
    """
    charge = charge or {}
    invoice = invoice or {}
    billing = charge.get("billing_details")
    billing = billing if isinstance(billing, Mapping) else {}
    email = (
        _text(billing.get("email"))
        or _text(charge.get("receipt_email"))
        or _text(invoice.get("customer_email"))
    )
    name = _text(billing.get("name")) or _text(invoice.get("customer_name"))
    found = {
        "customer": _customer_id(charge.get("customer")) or _customer_id(invoice.get("customer")),
        "email": CustomerLink.search_key(email, CustomerLink.EMAIL_LENGTH),
        "name": CustomerLink.search_key(name, CustomerLink.NAME_LENGTH),
    }
    return {key: value for key, value in found.items() if value}


def fact(name: str) -> ColumnElement[str]:
    """A payer fact of a record (``customer``, ``email`` or ``name``) as SQL text, or NULL.

    JSON path extraction as text: ``json_extract`` on SQLite, ``#>>`` on PostgreSQL.
    """
    return type_coerce(SyncRecord.flags[(FLAG, name)].as_string(), String())
