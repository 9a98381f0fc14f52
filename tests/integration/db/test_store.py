"""Inbox, posting and payout claims on both dialects, in one transaction (no concurrency here)."""

from __future__ import annotations

from datetime import UTC
from datetime import timedelta
from decimal import Decimal

import pytest
from factories import random_ref
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import SyncRecord
from reconciler.store import MAX_ERROR_LENGTH
from reconciler.store import ClaimHeldError
from reconciler.store import PostingConflictError
from reconciler.store import UnknownMessageError
from reconciler.store import claim_inbox
from reconciler.store import claim_payout
from reconciler.store import claim_posting
from reconciler.store import mark_inbox_processed
from reconciler.store import mark_posting_posted
from reconciler.store import record_inbox_attempt
from reconciler.store import release_claim


def claim(session: Session, message_id: str) -> bool:
    return claim_inbox(
        session,
        message_id,
        message_type="invoice.paid",
        source=MessageSource.STRIPE,
        routing_key="stripe.event.invoice.paid",
        correlation_id="corr-1",
        payload={"id": message_id, "data": {"amount_paid": 1050}},
    )


def inbox_row(session: Session, message_id: str) -> InboxMessage:
    return session.scalars(
        select(InboxMessage)
        .where(InboxMessage.message_id == message_id)
        .execution_options(populate_existing=True)
    ).one()


def payment_record(session: Session) -> SyncRecord:
    record = SyncRecord(kind=RecordKind.PAYMENT, business_key=f"stripe:{random_ref('pi')}")
    with session.begin_nested():
        session.add(record)
    return record


def claim_payment(
    session: Session, stripe_id: str, record_id: int, holder: str = "evt_1/a", lease_s: float = 60
) -> Posting:
    return claim_posting(
        session,
        stripe_id,
        holder=holder,
        lease_s=lease_s,
        kind=PostingKind.PAYMENT,
        record_id=record_id,
        bc_company_id="c1",
        bc_invoice_id="inv-1",
        amount=Decimal("-10.50"),
        amount_minor=1050,
        currency="EUR",
    )


class TestClaimInbox:
    def test_the_first_claim_inserts_and_a_redelivery_does_not(self, session: Session) -> None:
        message_id = random_ref("evt")

        assert claim(session, message_id) is True
        assert claim(session, message_id) is False

        row = inbox_row(session, message_id)
        assert row.source is MessageSource.STRIPE
        assert row.payload == {"id": message_id, "data": {"amount_paid": 1050}}
        assert row.first_seen_at.tzinfo is UTC
        assert row.processed_at is None
        assert row.attempts == 0

    def test_a_claim_rolled_back_with_its_transaction_can_be_made_again(
        self, session: Session
    ) -> None:
        message_id = random_ref("evt")
        savepoint = session.begin_nested()
        assert claim(session, message_id) is True
        savepoint.rollback()

        assert claim(session, message_id) is True

    def test_marking_processed_stamps_an_aware_time(self, session: Session) -> None:
        message_id = random_ref("evt")
        claim(session, message_id)

        mark_inbox_processed(session, message_id)

        processed_at = inbox_row(session, message_id).processed_at
        assert processed_at is not None
        assert processed_at.tzinfo is UTC

    def test_marking_an_unknown_message_is_an_error(self, session: Session) -> None:
        with pytest.raises(UnknownMessageError):
            mark_inbox_processed(session, random_ref("evt"))

    def test_attempts_are_counted_and_the_last_error_kept_short(self, session: Session) -> None:
        message_id = random_ref("evt")
        claim(session, message_id)

        assert record_inbox_attempt(session, message_id, error="timeout") == 1
        assert record_inbox_attempt(session, message_id, error="x" * 10_000) == 2

        row = inbox_row(session, message_id)
        assert row.attempts == 2
        assert row.last_error == "x" * MAX_ERROR_LENGTH
        with pytest.raises(UnknownMessageError):
            record_inbox_attempt(session, random_ref("evt"))


class TestClaimPosting:
    def test_a_new_posting_is_claimed_with_exact_values(self, session: Session) -> None:
        record = payment_record(session)
        stripe_id = random_ref("py")

        posting = claim_payment(session, stripe_id, record.id)

        assert posting.state is PostingState.CLAIMED
        assert posting.amount == Decimal("-10.50")
        assert posting.amount_minor == 1050
        assert posting.currency == "eur"
        assert posting.claimed_at.tzinfo is UTC
        assert posting.bc_line_id is None
        assert posting.claimed_by == "evt_1/a"
        assert posting.lease_expires_at is not None
        lease = posting.lease_expires_at - posting.claimed_at
        assert timedelta(seconds=59) < lease <= timedelta(seconds=61)

    def test_claiming_again_returns_the_same_row_unchanged(self, session: Session) -> None:
        record = payment_record(session)
        stripe_id = random_ref("py")
        first = claim_payment(session, stripe_id, record.id)

        again = claim_posting(
            session,
            stripe_id,
            holder="evt_1/a",
            lease_s=60,
            kind=PostingKind.REFUND,
            record_id=record.id,
            bc_company_id="other",
            bc_invoice_id=None,
            amount=Decimal("1"),
            amount_minor=100,
            currency="usd",
        )

        assert again.id == first.id
        assert (again.kind, again.bc_company_id, again.amount_minor) == (
            PostingKind.PAYMENT,
            "c1",
            1050,
        )
        assert session.scalars(select(Posting).where(Posting.stripe_id == stripe_id)).all() == [
            again
        ]

    def test_confirming_records_the_bc_line_once(self, session: Session) -> None:
        record = payment_record(session)
        stripe_id = random_ref("py")
        posting = claim_payment(session, stripe_id, record.id)

        mark_posting_posted(session, posting, bc_journal_id="j1", bc_line_id="line-1")
        mark_posting_posted(session, posting, bc_journal_id="j1", bc_line_id="line-1")

        confirmed = claim_payment(session, stripe_id, record.id, holder="evt_2/b")
        assert confirmed.state is PostingState.POSTED
        assert (confirmed.claimed_by, confirmed.lease_expires_at) == ("evt_1/a", None)
        assert confirmed.bc_line_id == "line-1"
        assert confirmed.posted_at is not None
        assert confirmed.posted_at.tzinfo is UTC
        with pytest.raises(PostingConflictError):
            mark_posting_posted(session, confirmed, bc_journal_id="j1", bc_line_id="line-2")

    def test_a_live_lease_keeps_another_holder_out_until_released(self, session: Session) -> None:
        record = payment_record(session)
        stripe_id = random_ref("py")
        held = claim_payment(session, stripe_id, record.id, holder="evt_1/a")

        with pytest.raises(ClaimHeldError) as raised:
            claim_payment(session, stripe_id, record.id, holder="evt_1/b")
        assert (raised.value.holder, raised.value.key) == ("evt_1/a", stripe_id)
        assert "evt_1/a" in str(raised.value)
        # The holder itself may claim again (it renews its lease).
        assert claim_payment(session, stripe_id, record.id, holder="evt_1/a").id == held.id

        release_claim(session, held, "evt_1/b")  # not the holder: nothing changes
        assert held.claimed_by == "evt_1/a"
        release_claim(session, held, "evt_1/a")
        taken = claim_payment(session, stripe_id, record.id, holder="evt_1/b")
        assert taken.claimed_by == "evt_1/b"

    def test_a_lease_that_ran_out_is_taken_over(self, session: Session) -> None:
        record = payment_record(session)
        stripe_id = random_ref("py")
        claim_payment(session, stripe_id, record.id, holder="evt_1/dead", lease_s=-1)

        taken = claim_payment(session, stripe_id, record.id, holder="evt_1/next")

        assert taken.claimed_by == "evt_1/next"
        assert taken.state is PostingState.CLAIMED

    def test_a_posted_row_is_returned_to_anyone_and_never_reclaimed(self, session: Session) -> None:
        record = payment_record(session)
        stripe_id = random_ref("py")
        posting = claim_payment(session, stripe_id, record.id, holder="evt_1/a")
        mark_posting_posted(session, posting, bc_journal_id="j1", bc_line_id="line-1")

        seen = claim_payment(session, stripe_id, record.id, holder="evt_9/z")

        assert (seen.state, seen.claimed_by) == (PostingState.POSTED, "evt_1/a")

    def test_a_payout_claim_has_the_same_lease(self, session: Session) -> None:
        record = payment_record(session)
        payout_id = random_ref("po")

        def claim_as(holder: str) -> Payout:
            return claim_payout(
                session,
                payout_id,
                holder=holder,
                lease_s=60,
                record_id=record.id,
                amount_minor=9680,
                currency="USD",
            )

        first = claim_as("a")
        with pytest.raises(ClaimHeldError):
            claim_as("b")
        first.state = PayoutState.POSTED
        session.flush()
        again = claim_as("b")
        assert (again.id, again.state, again.claimed_by) == (first.id, PayoutState.POSTED, "a")

    def test_a_posting_needs_an_existing_record(self, session: Session) -> None:
        with pytest.raises(IntegrityError, match="(?i)foreign key"), session.begin_nested():
            claim_payment(session, random_ref("py"), record_id=987_654_321)
