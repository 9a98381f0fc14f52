"""Claims under real concurrency: separate connections, real commits, this module's own databases.

Every test runs on both dialects: the inbox race, and the posting lease (one winner among
racing attempts, no writer blocked while a lease is held, a dead holder's lease taken over).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from factories import random_ref
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from reconciler import migrate
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import SyncRecord
from reconciler.store import ClaimHeldError
from reconciler.store import claim_inbox
from reconciler.store import claim_posting
from reconciler.store import mark_posting_posted

NewDatabase = Callable[[], str]
RACERS = 8


@contextmanager
def sessions(url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def migrated(new: NewDatabase) -> str:
    url = new()
    migrate.upgrade(url)
    return url


def new_record(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        record = SyncRecord(kind=RecordKind.PAYMENT, business_key=f"stripe:{random_ref('pi')}")
        session.add(record)
    return record.id


def claim_payment(
    session: Session, stripe_id: str, record_id: int, holder: str, lease_s: float = 60
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
        amount=Decimal("-25.00"),
        amount_minor=2500,
        currency="usd",
    )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


class TestInboxRace:
    def test_exactly_one_of_many_racing_consumers_claims_a_message(
        self, new_database: NewDatabase
    ) -> None:
        message_id = random_ref("evt")
        barrier = threading.Barrier(RACERS)
        results: list[bool] = []
        errors: list[BaseException] = []

        with sessions(migrated(new_database)) as factory:

            def consume() -> None:
                try:
                    barrier.wait(timeout=10)
                    with factory.begin() as session:
                        results.append(
                            claim_inbox(
                                session, message_id, message_type="t", source=MessageSource.BC
                            )
                        )
                        # Hold the transaction open a moment so that rivals meet an
                        # uncommitted claim, the case where a naive check-then-insert breaks.
                        time.sleep(0.05)
                except BaseException as exc:  # report every failure, not only the first
                    errors.append(exc)

            threads = [threading.Thread(target=consume) for _ in range(RACERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)

            with factory() as session:
                rows = session.scalar(
                    select(func.count()).where(InboxMessage.message_id == message_id)
                )

        assert errors == []
        assert sorted(results) == [False] * (RACERS - 1) + [True]
        assert rows == 1


class TestPostingLease:
    def test_exactly_one_of_many_racing_attempts_gets_the_lease(
        self, new_database: NewDatabase
    ) -> None:
        with sessions(migrated(new_database)) as factory:
            record_id = new_record(factory)
            stripe_id = random_ref("py")
            barrier = threading.Barrier(RACERS)
            winners: list[str] = []
            held: list[str | None] = []
            errors: list[BaseException] = []

            def attempt(holder: str) -> None:
                try:
                    barrier.wait(timeout=10)
                    with factory.begin() as session:
                        claim_payment(session, stripe_id, record_id, holder)
                        time.sleep(0.05)  # rivals meet an uncommitted claim
                    winners.append(holder)
                except ClaimHeldError as exc:
                    held.append(exc.holder)
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=attempt, args=(f"evt/{n}",)) for n in range(RACERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            with factory() as session:
                row = session.scalars(select(Posting).where(Posting.stripe_id == stripe_id)).one()

        assert errors == []
        assert len(winners) == 1
        assert held == winners * (RACERS - 1)
        assert row.claimed_by == winners[0]

    def test_the_database_stays_writable_while_a_lease_is_held(
        self, new_database: NewDatabase
    ) -> None:
        """The lease is committed before the BC call: other writers are never blocked by it.

        On SQLite an open claim transaction used to hold the single write lock for the length
        of the call; here a rival gets 50 ms to begin, and must not need them.
        """
        with sessions(migrated(new_database)) as factory:
            if factory.kw["bind"].dialect.name == "sqlite":
                event.listen(
                    factory.kw["bind"],
                    "connect",
                    lambda dbapi, _rec: dbapi.execute("PRAGMA busy_timeout=50"),
                )
            record_id = new_record(factory)
            held_id, other_id = random_ref("py"), random_ref("py")
            with factory.begin() as session:
                claim_payment(session, held_id, record_id, "evt_1/a")

            # ... the holder is "calling BC" now, with no transaction open ...
            with factory.begin() as session:
                other = claim_payment(session, other_id, record_id, "evt_2/a")
                mark_posting_posted(session, other, bc_journal_id="j1", bc_line_id="line-2")
            with pytest.raises(ClaimHeldError), factory.begin() as session:
                claim_payment(session, held_id, record_id, "evt_1/b")

            with factory.begin() as session:
                mine = claim_payment(session, held_id, record_id, "evt_1/a")
                mark_posting_posted(session, mine, bc_journal_id="j1", bc_line_id="line-1")
            with factory.begin() as session:
                seen = claim_payment(session, held_id, record_id, "evt_1/b")
                assert (seen.state, seen.bc_line_id) == (PostingState.POSTED, "line-1")

    def test_a_crashed_holders_lease_runs_out_and_is_taken_over(
        self, new_database: NewDatabase
    ) -> None:
        with sessions(migrated(new_database)) as factory:
            record_id = new_record(factory)
            stripe_id = random_ref("py")
            with factory.begin() as session:
                claim_payment(session, stripe_id, record_id, "evt_1/crashed", lease_s=0.3)
            with pytest.raises(ClaimHeldError), factory.begin() as session:
                claim_payment(session, stripe_id, record_id, "evt_1/redelivered")

            time.sleep(0.4)
            with factory.begin() as session:
                taken = claim_payment(session, stripe_id, record_id, "evt_1/redelivered")
                assert taken.claimed_by == "evt_1/redelivered"
