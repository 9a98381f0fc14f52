"""Race-free claims on the inbox, on postings and on payouts: where duplicates cost money.

Every claim starts with one ``INSERT … ON CONFLICT (<key>) DO NOTHING`` with the conflict target
named (a bare ``ON CONFLICT DO NOTHING`` would also swallow violations of unrelated unique
constraints; reliability.md §4.1). On PostgreSQL the statement is race-free: a concurrent
insert of the same key waits for the first transaction and then does nothing. On SQLite every
transaction begins IMMEDIATE and so holds the single write lock until commit.

The inbox claim commits with the message's effects. A posting or payout claim is a *lease*
instead (claim–act–confirm): it is committed on its own before bc-gateway is called, names the
one handling attempt that may write to BC and runs out after a while, so a crashed holder never
blocks the work for good and no transaction stays open across a network call (on SQLite that
would stop every other writer for the length of the call).

None of these functions commits: they run inside the caller's ``with session.begin():``.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from mlconnector.bus import RetryLater
from mlconnector.contracts import Envelope
from mlconnector.db import utcnow
from reconciler.models import InboxMessage
from reconciler.models import JournalBatch
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


class ClaimHeldError(RetryLater):
    """Another handling attempt holds the lease on this posting or payout: look again later.

    A wait, not a failure, so it never counts toward the message's retry limit: the holder
    either finishes (the next look finds the work done) or dies, and then its lease runs out
    and the next look takes the work over. However many holders a crash loop kills, each
    lease ends, so the wait is bounded by the crashes themselves.
    """

    def __init__(self, key: str, holder: str | None, until: datetime | None) -> None:
        when = until.isoformat(timespec="seconds") if until else "unknown"
        # The latest useful look is just after the lease ends (a dead holder's work is free
        # then); the runner looks sooner, backing off from one second, for a live holder.
        remaining = (until - utcnow()).total_seconds() if until else 1.0
        super().__init__(
            f"{key} is being written by {holder} (lease until {when})",
            delay_s=max(remaining, 0.0) + 0.2,
        )
        self.key = key
        self.holder = holder
        self.until = until


class PostingConflictError(RuntimeError):
    """A posting was confirmed twice with different BC lines; a person must look at it."""


def dialect_insert(session: Session, entity: Any) -> postgresql.Insert | sqlite.Insert:
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
        dialect_insert(session, InboxMessage)
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


def keep_message(session: Session, envelope: Envelope) -> None:
    """Store the message's envelope in the inbox (unprocessed) unless it is there already."""
    claim_inbox(
        session,
        envelope.id,
        message_type=envelope.type,
        source=MessageSource(envelope.source),
        correlation_id=envelope.correlation_id,
        payload=envelope.to_dict(),
    )


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
    holder: str,
    lease_s: float,
    kind: PostingKind,
    record_id: int,
    bc_company_id: str,
    bc_invoice_id: str | None,
    amount: Decimal,
    amount_minor: int,
    currency: str,
) -> Posting:
    """Claim the BC posting for one Stripe payment or refund under a lease for ``holder``.

    Returns the row: ``posted`` when there is nothing left to do, otherwise ``claimed`` with
    this holder's lease (look the line up in BC by external document number before writing it:
    an earlier holder may have written it and died before confirming). An existing row is
    returned as it is; the other arguments only fill a new one. Raises ``ClaimHeldError`` while
    another holder's lease runs. Commit before calling BC: the lease, not an open transaction,
    keeps rivals out.
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
    return _claim_leased(
        session,
        Posting,
        Posting.stripe_id,
        stripe_id,
        values,
        PostingState.POSTED,
        holder,
        lease_s,
        # Counted with the lease, in the same compare-and-set: 1 means no earlier attempt ever
        # held it, so none can have written the line (``handlers.fast_path``).
        on_take={"write_attempts": Posting.write_attempts + 1},
    )


def claim_payout(
    session: Session,
    stripe_payout_id: str,
    *,
    holder: str,
    lease_s: float,
    record_id: int,
    amount_minor: int,
    currency: str,
) -> Payout:
    """Claim the payout's journal lines under a lease for ``holder``, like ``claim_posting``.

    Two events announce every payout (``payout.paid``, ``payout.reconciliation_completed``) and
    may be handled at the same moment; the second meets the first one's lease, retries later
    and then finds the payout ``posted``.
    """
    values = {
        "stripe_payout_id": stripe_payout_id,
        "record_id": record_id,
        "amount_minor": amount_minor,
        "currency": normalise_currency(currency),
        "state": PayoutState.PENDING,
        "unmatched": [],
    }
    return _claim_leased(
        session,
        Payout,
        Payout.stripe_payout_id,
        stripe_payout_id,
        values,
        PayoutState.POSTED,
        holder,
        lease_s,
    )


_Claimed = TypeVar("_Claimed", Posting, Payout)


def _claim_leased(
    session: Session,
    model: type[_Claimed],
    key_column: Any,
    key: str,
    values: dict[str, Any],
    done: PostingState | PayoutState,
    holder: str,
    lease_s: float,
    on_take: dict[str, Any] | None = None,
) -> _Claimed:
    """INSERT … ON CONFLICT (key) DO NOTHING, then take the lease if it is free (one UPDATE).

    ``on_take``: more columns the same UPDATE sets when it takes the lease.

    The UPDATE is a compare-and-set: it matches only a row that is not done and whose lease is
    released, run out, or already this holder's. On PostgreSQL a rival UPDATE waits for the
    row and re-checks the condition; on SQLite the transaction holds the write lock. Either way
    exactly one holder wins.
    """
    now = utcnow()
    until = now + timedelta(seconds=lease_s)
    session.execute(
        dialect_insert(session, model)
        .values(**values, claimed_by=holder, lease_expires_at=until)
        .on_conflict_do_nothing(index_elements=[key_column])
    )
    session.execute(
        update(model)
        .where(
            key_column == key,
            model.state != done,
            or_(
                model.claimed_by.is_(None),
                model.claimed_by == holder,
                model.lease_expires_at.is_(None),
                model.lease_expires_at <= now,
            ),
        )
        .values(claimed_by=holder, lease_expires_at=until, **(on_take or {}))
        .execution_options(synchronize_session=False)
    )
    query = select(model).where(key_column == key).execution_options(populate_existing=True)
    row = session.scalars(query).one()
    if row.state != done and row.claimed_by != holder:
        raise ClaimHeldError(key, row.claimed_by, row.lease_expires_at)
    return row


def release_claim(session: Session, row: Posting | Payout, holder: str) -> None:
    """Give the lease back (the attempt failed or decided not to write): free for the next one."""
    if row.claimed_by == holder:
        row.claimed_by = None
        row.lease_expires_at = None
        session.flush()


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
    posting.lease_expires_at = None  # claimed_by stays: the attempt that wrote the line
    session.flush()


# -- journal batches: one poster at a time (``reconciler.batch_poster``) -------------------


def note_batch_line(session: Session, journal: str) -> None:
    """A line was confirmed in ``journal``: the batch waits for a post (one upsert)."""
    statement = dialect_insert(session, JournalBatch).values(
        journal=journal, written_seq=1, posted_seq=0, failures=0
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[JournalBatch.journal],
            set_={"written_seq": JournalBatch.written_seq + 1},
        )
    )


def claim_batch(
    session: Session,
    journal: str,
    *,
    holder: str,
    lease_s: float,
    min_gap_s: float = 0.0,
    max_lines: int | None = None,
) -> int | None:
    """Take the poster's lease on a batch that waits for a post; the ``written_seq`` it covers.

    None when nothing waits, another poster's lease runs, or the batch was posted less than
    ``min_gap_s`` ago with fewer than ``max_lines`` lines waiting (one post carries many lines:
    issue 15). A compare-and-set UPDATE, like the posting leases: exactly one poster wins, and
    the gap holds across every consumer process.
    """
    now = utcnow()
    due = [
        JournalBatch.last_posted_at.is_(None),
        JournalBatch.last_posted_at <= now - timedelta(seconds=min_gap_s),
    ]
    if max_lines is not None:
        due.append(JournalBatch.written_seq - JournalBatch.posted_seq >= max_lines)
    statement = (
        update(JournalBatch)
        .where(
            JournalBatch.journal == journal,
            JournalBatch.written_seq > JournalBatch.posted_seq,
            or_(*due),
            or_(
                JournalBatch.claimed_by.is_(None),
                JournalBatch.claimed_by == holder,
                JournalBatch.lease_expires_at.is_(None),
                JournalBatch.lease_expires_at <= now,
            ),
        )
        .values(claimed_by=holder, lease_expires_at=now + timedelta(seconds=lease_s))
        .returning(JournalBatch.written_seq)
        .execution_options(synchronize_session=False)
    )
    seq = session.execute(statement).scalar_one_or_none()
    return None if seq is None else int(seq)


def finish_batch(
    session: Session, journal: str, *, holder: str, covered_seq: int, error: str | None
) -> int:
    """Give the lease back; on success the batch is posted up to ``covered_seq``.

    Returns the batch's count of consecutive failed posts.
    """
    values: dict[str, Any] = {"claimed_by": None, "lease_expires_at": None}
    if error is None:
        values.update(
            posted_seq=func.greatest(JournalBatch.posted_seq, covered_seq)
            if session.get_bind().dialect.name == "postgresql"
            else func.max(JournalBatch.posted_seq, covered_seq),
            last_posted_at=utcnow(),
            last_error=None,
            failures=0,
        )
    else:
        values.update(last_error=error[:MAX_ERROR_LENGTH], failures=JournalBatch.failures + 1)
    statement = (
        update(JournalBatch)
        .where(JournalBatch.journal == journal, JournalBatch.claimed_by == holder)
        .values(**values)
        .returning(JournalBatch.failures)
        .execution_options(synchronize_session=False)
    )
    failures = session.execute(statement).scalar_one_or_none()
    return int(failures or 0)
