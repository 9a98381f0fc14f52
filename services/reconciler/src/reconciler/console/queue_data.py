"""The queue's rows: every record that needs a person, filtered, newest first, a page at a time.

Pages are keyset pages (``id < before``) over the ``(attention, id)`` index, so the hundredth
page costs what the first does; filters use indexed columns (``bc_number``, ``stripe_ref``,
``bc_ref``, ``amount_minor``, ``created_at``). Search takes what a clerk has in hand: a BC
invoice or customer number, a Stripe id (payment, invoice, customer), an amount, or a
customer's name or e-mail; each thing it may be is an indexed lookup, or a read of a small
table or index range, below (``bench/console_pages.py`` measures them on 100,000 records).

A customer is found by its BC number or Stripe id, its e-mail (whole, any case) or part of its
name (any case, at least ``MIN_NAME`` characters, so one letter does not match every name). The
search first reads which customers the text names (``named_customers``: one read of
``customer_links``, one row per customer, the only table a LIKE reads); they lead to records
through indexes only: the customer's own record and its invoices' records by ``bc_ref``. The
clerk's ``%`` and ``_`` are letters, not wildcards. An unmatched payment names no invoice, so it
is found by its payer (``reconciler.payers``), among the queue's unmatched items only: by the
payer's e-mail or whole name as typed, or as the Stripe customer or e-mail of a customer named.
Text that names no customer and cannot name a payer (an invoice number, a charge id) searches
exactly as before names were added. On the benchmark's 100,000 records (both databases): an id
2-4 ms, an e-mail or a name a few customers share 6-11 ms, two letters in 40 % of 2,000
customers' names 75-90 ms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from decimal import InvalidOperation

from sqlalchemy import ColumnElement
from sqlalchemy import CompoundSelect
from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy.orm import Session

from mlconnector.money import MoneyError
from mlconnector.money import from_minor
from reconciler import payers
from reconciler.console import filters
from reconciler.console.filters import FilterError as FilterError  # re-exported
from reconciler.models import CustomerLink
from reconciler.models import InvoiceLink
from reconciler.models import RecordState
from reconciler.models import SyncRecord

PAGE_SIZE = 50
MAX_QUERY = 100
# The fewest characters of a name that are looked for inside names: one letter is in nearly
# every name, and would list the whole queue slower than no search at all.
MIN_NAME = 2
STRIPE_CUSTOMER_PREFIX = "cus_"
# The most customers a search lists by value (``Customers``); more go in as subqueries.
MAX_LISTED = 20


@dataclasses.dataclass(frozen=True)
class QueueFilter:
    kind: str | None = None
    q: str | None = None
    amount: Decimal | None = None
    date_from: date | None = None
    date_to: date | None = None
    before: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> QueueFilter:
        amount = None
        raw_amount = filters.text(args, "amount", 32)
        if raw_amount is not None:
            try:
                amount = Decimal(raw_amount.replace(",", ""))
            except InvalidOperation as exc:
                raise FilterError("amount must be a number like 120.50") from exc
            if not amount.is_finite() or amount <= 0:
                raise FilterError("amount must be a positive number")
        before = filters.cursor(args, "before", "record")
        return cls(
            kind=filters.text(args, "kind", 32),
            q=filters.text(args, "q", MAX_QUERY),
            amount=amount,
            date_from=filters.day(args, "from"),
            date_to=filters.day(args, "to"),
            before=before,
        )

    def args(self, **changes: object) -> dict[str, str]:
        """Query arguments for a link to this filter (with ``changes``)."""
        values = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        out = {
            "kind": values.kind,
            "q": values.q,
            "amount": str(values.amount) if values.amount is not None else None,
            "from": values.date_from.isoformat() if values.date_from else None,
            "to": values.date_to.isoformat() if values.date_to else None,
            "before": str(values.before) if values.before else None,
        }
        return {k: v for k, v in out.items() if v}


def _minor_candidates(amount: Decimal) -> list[int]:
    """The amount in minor units of a zero-, two- and three-decimal currency, where whole."""
    found = []
    for places in (0, 2, 3):
        scaled = amount.scaleb(places)
        if scaled == scaled.to_integral_value():
            found.append(int(scaled))
    return found


def _customer_named(q: str) -> ColumnElement[bool]:
    """The customer links ``q`` names: BC number, Stripe id, e-mail, or part of the name.

    The e-mail and the name are compared in ``CustomerLink.search_key`` form, as stored, so
    case does not matter on either database. ``contains(autoescape=True)`` escapes the LIKE
    wildcards the clerk typed: "50%" finds "50% Off Ltd", not every name with a 50 in it.
    """
    named = [CustomerLink.bc_customer_number == q, CustomerLink.stripe_customer_id == q]
    key = CustomerLink.search_key(q)
    if key:
        named.append(CustomerLink.email_key == key)
        if len(key) >= MIN_NAME:
            named.append(CustomerLink.name_key.contains(key, autoescape=True))
    return or_(*named)


@dataclasses.dataclass(frozen=True)
class Customers:
    """The customer links a search names, read before it (``named_customers``).

    Listed, they go into the search as values, which PostgreSQL counts right; as subqueries
    (more than ``MAX_LISTED`` customers, or not read first), it guesses a third of the unmatched
    payments match and walks the queue backwards by id instead of looking the few up.
    """

    bc_ids: tuple[str, ...] = ()
    stripe_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.bc_ids)


def named_customers(session: Session, q: str) -> Customers | None:
    """The customers ``q`` names, from one read of that small table; None if too many to list."""
    rows = session.execute(
        select(CustomerLink.bc_customer_id, CustomerLink.stripe_customer_id, CustomerLink.email_key)
        .where(_customer_named(q))
        .limit(MAX_LISTED + 1)
    ).all()
    if len(rows) > MAX_LISTED:
        return None
    return Customers(
        bc_ids=tuple(str(r[0]) for r in rows),
        stripe_ids=tuple(str(r[1]) for r in rows),
        emails=tuple(str(r[2]) for r in rows if r[2]),
    )


def _customer_lookups(q: str, customers: Customers | None) -> list[Select[int]]:
    """The records of the customers ``q`` names: their own, and their invoices'."""
    bc_ids: Select[str] | tuple[str, ...]
    if customers is None:
        bc_ids = select(CustomerLink.bc_customer_id).where(_customer_named(q))
    elif customers.any:
        bc_ids = customers.bc_ids
    else:
        return []
    invoices = select(InvoiceLink.bc_invoice_id).where(InvoiceLink.bc_customer_id.in_(bc_ids))
    return [
        select(SyncRecord.id).where(SyncRecord.bc_ref.in_(bc_ids)),
        select(SyncRecord.id).where(SyncRecord.bc_ref.in_(invoices)),
    ]


def _unmatched_payer_ids(q: str, customers: Customers | None) -> Select[int] | None:
    """Unmatched payments whose payer ``q`` names, or is one of the ``customers`` it names.

    Only the queue's unmatched items are read (the ``attention`` index range); each payer fact
    is compared whole (``reconciler.payers`` says why this is enough and stays small). Reading
    them costs a few µs a row, so text that can name no payer reads none: an e-mail has an "@",
    a Stripe customer id its prefix, a name no digit; an invoice number or a Stripe charge id
    (the usual search) is none of these, and then the range is read only if a customer matched
    (None: no lookup at all).
    """
    customer, email = payers.fact("customer"), payers.fact("email")
    key = CustomerLink.search_key(q) or ""
    named = []
    if q.startswith(STRIPE_CUSTOMER_PREFIX):
        named.append(customer == q)
    if "@" in key:
        named.append(email == key)
    if key and not any(c.isdigit() for c in key):
        named.append(payers.fact("name") == key)
    if customers is None:
        matched = _customer_named(q)
        has_email = CustomerLink.email_key.is_not(None)
        named += [
            customer.in_(select(CustomerLink.stripe_customer_id).where(matched)),
            email.in_(select(CustomerLink.email_key).where(matched, has_email)),
        ]
    else:
        if customers.stripe_ids:
            named.append(customer.in_(customers.stripe_ids))
        if customers.emails:
            named.append(email.in_(customers.emails))
    if not named:
        return None
    return select(SyncRecord.id).where(
        SyncRecord.attention == RecordState.UNMATCHED.value, or_(*named)
    )


def _search_ids(q: str, customers: Customers | None = None) -> CompoundSelect[int]:
    """Ids of the records ``q`` names, as a UNION of lookups that each use an index.

    The same conditions joined by OR would not: PostgreSQL cannot combine an ``IN (subquery)``
    with indexes in an OR, so it walked the whole table backwards by id, filtering every row
    (25-120 ms a search on 100,000 records); the UNION answers in about a millisecond on both
    databases. ``customers``: what ``named_customers`` read (None: look them up in the
    statement); with none named, the lookups through customers are left out, and so is the
    read of the unmatched payments unless ``q`` may name a payer itself, so an invoice number
    or a Stripe id costs what it did before names were searched.
    """
    invoices = select(InvoiceLink.bc_invoice_id).where(
        or_(InvoiceLink.bc_invoice_number == q, InvoiceLink.stripe_invoice_id == q)
    )
    lookups: list[Select[int]] = [
        select(SyncRecord.id).where(SyncRecord.bc_number == q),
        select(SyncRecord.id).where(SyncRecord.stripe_ref == q),
        select(SyncRecord.id).where(SyncRecord.bc_ref == q),
        select(SyncRecord.id).where(SyncRecord.bc_ref.in_(invoices)),
        *_customer_lookups(q, customers),
    ]
    paid_by = _unmatched_payer_ids(q, customers)
    if paid_by is not None:
        lookups.append(paid_by)
    return union(*lookups)


def queue_statement(flt: QueueFilter, customers: Customers | None = None) -> Select[SyncRecord]:
    """The filter's records, newest first; ``customers`` as for ``_search_ids``."""
    stmt = select(SyncRecord).where(SyncRecord.attention.is_not(None))
    if flt.kind:
        stmt = stmt.where(SyncRecord.attention == flt.kind)
    if flt.q:
        stmt = stmt.where(SyncRecord.id.in_(_search_ids(flt.q, customers)))
    if flt.amount is not None:
        stmt = stmt.where(SyncRecord.amount_minor.in_(_minor_candidates(flt.amount)))
    if flt.date_from:
        stmt = stmt.where(SyncRecord.created_at >= datetime.combine(flt.date_from, time(), UTC))
    if flt.date_to:
        end = datetime.combine(flt.date_to + timedelta(days=1), time(), UTC)
        stmt = stmt.where(SyncRecord.created_at < end)
    if flt.before:
        stmt = stmt.where(SyncRecord.id < flt.before)
    return stmt.order_by(SyncRecord.id.desc())


def _amount_matches(record: SyncRecord, amount: Decimal) -> bool:
    if record.amount_minor is None or not record.currency:
        return False
    try:
        return from_minor(int(record.amount_minor), record.currency) == amount
    except MoneyError:
        return False


@dataclasses.dataclass(frozen=True)
class QueuePage:
    rows: list[SyncRecord]
    next_before: int | None


def queue_page(session: Session, flt: QueueFilter, size: int = PAGE_SIZE) -> QueuePage:
    customers = named_customers(session, flt.q) if flt.q else None
    rows = list(session.scalars(queue_statement(flt, customers).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    next_before = rows[-1].id if more and rows else None
    if flt.amount is not None:
        rows = [r for r in rows if _amount_matches(r, flt.amount)]
    return QueuePage(rows, next_before)


def queue_counts(session: Session) -> dict[str, int]:
    """How many items wait, per kind."""
    rows = session.execute(
        select(SyncRecord.attention, func.count())
        .where(SyncRecord.attention.is_not(None))
        .group_by(SyncRecord.attention)
    ).all()
    return {str(kind): int(n) for kind, n in rows}


def all_rows(session: Session, flt: QueueFilter, chunk: int = 500) -> list[SyncRecord]:
    """Every row of the filter (for the CSV export), fetched in keyset chunks."""
    out: list[SyncRecord] = []
    current = dataclasses.replace(flt, before=None)
    while True:
        page = queue_page(session, current, chunk)
        out.extend(page.rows)
        if page.next_before is None:
            return out
        current = dataclasses.replace(current, before=page.next_before)
