"""When the connector's own records make BC's look-ups unnecessary (issue 15).

BC allows one app 6,000 requests per 5 minutes (bc-api.md §8), shared with everything else the
firm connects. bc-gateway's careful way to write a payment line costs four calls: the invoice
read (customer, currency, open amount), the line looked up in the batch, the document number
looked up in the G/L (both for a line an earlier attempt may have written), then the write.
Here the reconciler decides when it can vouch for all of that itself and send the facts with
the command (``known``), so the write is the only call:

- **No earlier write.** The posting was claimed for the first time (``write_attempts == 1``):
  no attempt before this one held the lease, so none can have written the line. A retry, a
  crash anywhere after the claim, a lease that ran out: all come back with a higher count and
  take the careful way.
- **The invoice as pushed.** The connector pushed the invoice and kept what it read then
  (``InvoiceLink``: customer, open amount, BC's lastModifiedDateTime), the customer's currency
  was the invoice's, and no BC message since has shown the invoice changed
  (``note_bc_change``: paid another way, credited, cancelled). A payment for an invoice the
  connector did not push has no such facts.
- **No overpayment.** The payment together with the connector's other payments for the invoice
  (written or still in flight) fits in the open amount it read; anything else is checked
  against BC's own figure.

Refunds need no open amount: a refund line only names the invoice's customer.

The change check relies on BC's messages, which can arrive up to about a minute late (BC batches
notifications, bc-api.md §7.5): a payment made in Stripe in that minute after the invoice was
settled another way in BC is written against the invoice as pushed. BC then applies what is
still open and leaves the rest as an open payment on the customer's account; issue 14 closes
that window from the other side by marking such Stripe invoices paid.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlconnector.db import utcnow
from mlconnector.money import MoneyError
from mlconnector.money import to_minor
from reconciler.models import InvoiceLink
from reconciler.models import Posting
from reconciler.models import PostingKind


def link_facts(invoice: dict[str, Any], currency: str) -> dict[str, Any]:
    """What a push keeps of the BC invoice it read (empty values when it cannot vouch)."""
    customer = invoice.get("customer") or {}
    same_currency = str(customer.get("currency_code") or "").upper() == currency.upper()
    try:
        open_minor: int | None = to_minor(Decimal(str(invoice.get("remaining_amount"))), currency)
    except (InvalidOperation, MoneyError, ValueError):
        open_minor = None
    return {
        "bc_customer_id": str(customer.get("id") or "") or None if same_currency else None,
        "bc_open_minor": open_minor,
        "bc_modified_at": parse_time(invoice.get("last_modified")),
    }


def parse_time(value: object) -> dt.datetime | None:
    """An ISO timestamp from a gateway answer or a message, as aware UTC (None if absent)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def shows_change(link: InvoiceLink, last_modified: object) -> bool:
    """Whether a BC message about a linked invoice is newer than what the push read."""
    seen = parse_time(last_modified)
    if seen is None or link.bc_changed_at is not None or link.bc_customer_id is None:
        return False  # nothing to compare, already noted, or the fast path is off anyway
    return link.bc_modified_at is None or seen > link.bc_modified_at


def note_bc_change(session: Session, link_id: int) -> None:
    """From now on the invoice's payments are checked against BC, not against the link."""
    row = session.get(InvoiceLink, link_id)
    if row is not None and row.bc_changed_at is None:
        row.bc_changed_at = utcnow()


def known_invoice(
    session: Session,
    *,
    posting: Posting,
    kind: PostingKind,
    company_id: str,
    bc_invoice_id: str,
    currency: str,
    amount_minor: int,
) -> dict[str, Any] | None:
    """The facts to send with the command, or None when BC must be asked (module docstring)."""
    if posting.write_attempts != 1:
        return None
    link = session.scalar(
        select(InvoiceLink).where(
            InvoiceLink.bc_company_id == company_id, InvoiceLink.bc_invoice_id == bc_invoice_id
        )
    )
    if (
        link is None
        or link.bc_customer_id is None
        or link.bc_changed_at is not None
        or link.currency.upper() != currency.upper()
    ):
        return None
    if kind is PostingKind.PAYMENT:
        if link.bc_open_minor is None:
            return None
        others = session.scalar(
            select(func.coalesce(func.sum(Posting.amount_minor), 0)).where(
                Posting.kind == PostingKind.PAYMENT,
                Posting.bc_company_id == company_id,
                Posting.bc_invoice_id == bc_invoice_id,
                Posting.id != posting.id,  # written or in flight: both count
            )
        )
        if amount_minor + int(others or 0) > link.bc_open_minor:
            return None
    return {
        "first_write": True,
        "customer_id": link.bc_customer_id,
        "invoice_number": link.bc_invoice_number or "",
        "invoice_currency": link.currency.upper(),
    }
