"""Read-side queries over the reconciler's tables, shared by the HTTP API and the operator CLI.

Operators ask three questions: which records are in a given state (or concern a given BC or
Stripe document), what happened to one record (its audit trail and postings), and how a payout
was settled. Each question is one function here, written in SQLAlchemy 2.x ``select`` style, so
the API and the CLI answer it identically on SQLite and PostgreSQL.

Lists are newest first and paged by keyset (``id < cursor``), never by offset: a page costs the
same however deep it is, and rows inserted while an operator pages do not shift the pages
(reliability.md §6.7, API4: every list is bounded by ``MAX_PAGE_SIZE``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Generic
from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from reconciler.models import AuditAction
from reconciler.models import AuditEvent
from reconciler.models import DeadLetter
from reconciler.models import InboxMessage
from reconciler.models import Payout
from reconciler.models import Posting
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Ids are 64-bit: a larger number cannot name a row (and would overflow the database driver).
MAX_ID = 2**63 - 1

Row = TypeVar("Row")


@dataclasses.dataclass(frozen=True)
class RecordFilter:
    """What to list; ``since`` is inclusive and ``until`` exclusive, both on ``created_at``."""

    state: RecordState | None = None
    kind: RecordKind | None = None
    bc_ref: str | None = None
    stripe_ref: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    cursor: int | None = None


@dataclasses.dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: Sequence[Row]
    next_cursor: int | None


@dataclasses.dataclass(frozen=True)
class RecordDetail:
    """A record with its whole story: audit events in time order and its BC postings."""

    record: SyncRecord
    audit: Sequence[AuditEvent]
    postings: Sequence[Posting]
    # Messages parked in the dead-letter queue that concern the record, kept whole.
    dead_letters: Sequence[DeadLetter] = ()


@dataclasses.dataclass(frozen=True)
class PayoutDetail:
    """A payout (None while it is not reconciled yet) and the record tracking it."""

    payout: Payout | None
    record: SyncRecord | None
    audit: Sequence[AuditEvent]


def _bounded(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE_SIZE))


def _page(session: Session, query: Select[Row], limit: int, key: str) -> Page[Row]:
    """Run a newest-first query for one more row than asked: that row says a next page exists."""
    limit = _bounded(limit)
    rows = list(session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    next_cursor: int = getattr(rows[-1], key)
    return Page(rows, next_cursor)


def list_records(session: Session, where: RecordFilter) -> Page[SyncRecord]:
    """Records matching every given filter, newest first, one page of at most ``limit``.

    ``bc_ref`` matches the BC id or the BC document number (operators know either);
    ``stripe_ref`` matches the Stripe object id.
    """
    query = select(SyncRecord).order_by(SyncRecord.id.desc())
    if where.state is not None:
        query = query.where(SyncRecord.state == where.state)
    if where.kind is not None:
        query = query.where(SyncRecord.kind == where.kind)
    if where.bc_ref is not None:
        query = query.where(
            or_(SyncRecord.bc_ref == where.bc_ref, SyncRecord.bc_number == where.bc_ref)
        )
    if where.stripe_ref is not None:
        query = query.where(SyncRecord.stripe_ref == where.stripe_ref)
    if where.since is not None:
        query = query.where(SyncRecord.created_at >= where.since)
    if where.until is not None:
        query = query.where(SyncRecord.created_at < where.until)
    if where.cursor is not None:
        query = query.where(SyncRecord.id < where.cursor)
    return _page(session, query, where.limit, "id")


def audit_trail(session: Session, record_id: int) -> list[AuditEvent]:
    """A record's audit events in the order they happened (id breaks ties within a timestamp)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.record_id == record_id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return list(session.scalars(query))


def get_record(session: Session, record_id: int) -> RecordDetail | None:
    """One record with its audit trail and postings; None if there is no such record."""
    record = session.get(SyncRecord, record_id) if 0 < record_id <= MAX_ID else None
    if record is None:
        return None
    postings = session.scalars(
        select(Posting).where(Posting.record_id == record_id).order_by(Posting.id)
    )
    dead = session.scalars(
        select(DeadLetter).where(DeadLetter.record_id == record_id).order_by(DeadLetter.id)
    )
    return RecordDetail(record, audit_trail(session, record_id), list(postings), list(dead))


def list_payouts(
    session: Session, *, limit: int = DEFAULT_PAGE_SIZE, cursor: int | None = None
) -> Page[Payout]:
    """Reconciled payouts, newest first, one page of at most ``limit``."""
    query = select(Payout).order_by(Payout.id.desc())
    if cursor is not None:
        query = query.where(Payout.id < cursor)
    return _page(session, query, limit, "id")


def get_payout(session: Session, stripe_payout_id: str) -> PayoutDetail | None:
    """A payout with its record and audit trail; None if neither the payout nor a record exists.

    A payout that was announced but not yet paid has a record (with the story of why it waits)
    and no payout row yet; that is still an answer worth showing.
    """
    payout = session.scalar(select(Payout).where(Payout.stripe_payout_id == stripe_payout_id))
    record: SyncRecord | None = None
    if payout is not None and payout.record_id is not None:
        record = session.get(SyncRecord, payout.record_id)
    if record is None:
        record = session.scalar(
            select(SyncRecord)
            .where(SyncRecord.kind == RecordKind.PAYOUT, SyncRecord.stripe_ref == stripe_payout_id)
            .order_by(SyncRecord.id)
            .limit(1)
        )
    if payout is None and record is None:
        return None
    audit = audit_trail(session, record.id) if record is not None else []
    return PayoutDetail(payout, record, audit)


def source_message(session: Session, message_id: str) -> InboxMessage | None:
    """The inbox row of a consumed message, which keeps the original envelope for replays."""
    return session.scalar(select(InboxMessage).where(InboxMessage.message_id == message_id))


def count_replays(session: Session, record_id: int) -> int:
    """How many times a record was replayed so far (its ``replayed`` audit events)."""
    query = select(func.count(AuditEvent.id)).where(
        AuditEvent.record_id == record_id, AuditEvent.action == AuditAction.REPLAYED.value
    )
    return int(session.scalar(query) or 0)
