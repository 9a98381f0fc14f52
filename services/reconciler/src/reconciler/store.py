"""Race-free claims on the inbox and on postings, the two places where duplicates cost money.

Both claims are one ``INSERT … ON CONFLICT (<key>) DO NOTHING`` with the conflict target named
(a bare ``ON CONFLICT DO NOTHING`` would also swallow violations of unrelated unique
constraints; reliability.md §4.1). On PostgreSQL the statement is race-free: a concurrent
insert of the same key waits for the first transaction and then does nothing. On SQLite the
INSERT takes the database's single write lock, which is held until commit, so writers are
serialised (waiting up to the busy timeout set in ``mlconnector.db``).

None of these functions commits: they run inside the caller's ``with session.begin():`` so the
claim, the effects recorded with it and the ack-worthy state commit together, or not at all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from mlconnector.db import utcnow
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import normalise_currency

# Error texts are stored for people to read; a whole traceback per retry would bloat the table.
MAX_ERROR_LENGTH = 4000


class UnknownMessageError(LookupError):
    """The inbox has no row for this message id."""


class PostingLockedError(RuntimeError):
    """Another transaction holds this posting (PostgreSQL); retry the message later."""

    def __init__(self, stripe_id: str) -> None:
        super().__init__(f"posting {stripe_id} is being handled by another worker")
        self.stripe_id = stripe_id


class PostingConflictError(RuntimeError):
    """A posting was confirmed twice with different BC lines; a person must look at it."""


def _insert(session: Session, entity: Any) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT, which knows ``ON CONFLICT``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"unsupported database dialect: {dialect}")


def claim_inbox(
    session: Session,
    message_id: str,
    *,
    message_type: str,
    source: MessageSource,
    routing_key: str | None = None,
    correlation_id: str | None = None,
    payload: Any = None,
) -> bool:
    """Record a consumed message; True if this call inserted it, False if it was already there.

    If the surrounding transaction rolls back, so does the claim, and a redelivery claims again.
    """
    statement = (
        _insert(session, InboxMessage)
        .values(
            message_id=message_id,
            message_type=message_type,
            source=MessageSource(source),
            routing_key=routing_key,
            correlation_id=correlation_id,
            payload=payload,
            first_seen_at=utcnow(),
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[InboxMessage.message_id])
        .returning(InboxMessage.id)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def mark_inbox_processed(session: Session, message_id: str, *, at: datetime | None = None) -> None:
    """Stamp the message as fully handled (its effects commit in the same transaction)."""
    statement = (
        update(InboxMessage)
        .where(InboxMessage.message_id == message_id)
        .values(processed_at=at or utcnow(), last_error=None)
        .returning(InboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).scalar_one_or_none() is None:
        raise UnknownMessageError(message_id)


def record_inbox_attempt(session: Session, message_id: str, *, error: str | None = None) -> int:
    """Count one more handling attempt and keep the last error; returns the attempt count."""
    statement = (
        update(InboxMessage)
        .where(InboxMessage.message_id == message_id)
        .values(
            attempts=InboxMessage.attempts + 1,
            last_error=None if error is None else error[:MAX_ERROR_LENGTH],
        )
        .returning(InboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    attempts = session.execute(statement).scalar_one_or_none()
    if attempts is None:
        raise UnknownMessageError(message_id)
    return attempts


def claim_posting(
    session: Session,
    stripe_id: str,
    *,
    kind: PostingKind,
    record_id: int,
    bc_company_id: str,
    bc_invoice_id: str | None,
    amount: Decimal,
    amount_minor: int,
    currency: str,
) -> Posting:
    """Claim the BC posting for one Stripe payment or refund, and lock it for this transaction.

    Returns the posting row: ``state`` is ``claimed`` when the BC line still has to be written
    (look it up in BC by external document number first: an earlier attempt may have written it
    and crashed before confirming) and ``posted`` when there is nothing left to do. An existing
    row is returned as it is; the other arguments only fill a new one.

    On PostgreSQL the row is locked with ``FOR UPDATE SKIP LOCKED``; if another transaction holds
    it, ``PostingLockedError`` is raised so the message goes to delayed retry instead of posting
    twice. On SQLite the INSERT has already taken the single write lock, held until commit.
    """
    values = {
        "stripe_id": stripe_id,
        "kind": PostingKind(kind),
        "state": PostingState.CLAIMED,
        "record_id": record_id,
        "bc_company_id": bc_company_id,
        "bc_invoice_id": bc_invoice_id,
        "amount": amount,
        "amount_minor": amount_minor,
        "currency": normalise_currency(currency),
        "claimed_at": utcnow(),
    }
    return _claim_locked(session, Posting, Posting.stripe_id, stripe_id, values)


def claim_payout(
    session: Session, stripe_payout_id: str, *, record_id: int, amount_minor: int, currency: str
) -> Payout:
    """Claim and lock the payout's row for this transaction, like ``claim_posting``.

    Two events announce every payout (``payout.paid``, ``payout.reconciliation_completed``) and
    may be handled at the same moment; the lock, held while the journal lines are written, makes
    the second wait (or retry later) and then find the payout ``posted``.
    """
    values = {
        "stripe_payout_id": stripe_payout_id,
        "record_id": record_id,
        "amount_minor": amount_minor,
        "currency": normalise_currency(currency),
        "state": PayoutState.PENDING,
        "unmatched": [],
    }
    return _claim_locked(session, Payout, Payout.stripe_payout_id, stripe_payout_id, values)


_Claimed = TypeVar("_Claimed", Posting, Payout)


def _claim_locked(
    session: Session, model: type[_Claimed], key_column: Any, key: str, values: dict[str, Any]
) -> _Claimed:
    """INSERT … ON CONFLICT (key) DO NOTHING, then the row, locked for this transaction."""
    session.execute(
        _insert(session, model).values(**values).on_conflict_do_nothing(index_elements=[key_column])
    )
    query = select(model).where(key_column == key).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalars(query).one_or_none()
    if row is None:
        # The row exists (the INSERT saw it), so an empty result means it is locked elsewhere.
        raise PostingLockedError(key)
    return row


def mark_posting_posted(
    session: Session, posting: Posting, *, bc_journal_id: str, bc_line_id: str
) -> None:
    """Confirm a claimed posting with the BC line that now carries it (idempotent)."""
    if posting.state is PostingState.POSTED:
        if posting.bc_line_id != bc_line_id:
            raise PostingConflictError(
                f"posting {posting.stripe_id} is already posted as BC line {posting.bc_line_id}"
            )
        return
    posting.state = PostingState.POSTED
    posting.bc_journal_id = bc_journal_id
    posting.bc_line_id = bc_line_id
    posting.posted_at = utcnow()
    session.flush()
