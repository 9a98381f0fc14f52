"""Claims under real concurrency: separate connections, real commits, this module's own databases.

The inbox race runs on both dialects. The posting lock is dialect-specific by design
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the single write lock), so each dialect has its
own test of it.
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
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
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
from reconciler.store import PostingLockedError
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


def claim_payment(session: Session, stripe_id: str, record_id: int) -> Posting:
    return claim_posting(
        session,
        stripe_id,
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


@pytest.mark.postgres
class TestPostgresPostingLock:
    def test_a_posting_held_by_another_worker_is_refused_not_posted_twice(
        self, pg_databases: NewDatabase
    ) -> None:
        with sessions(migrated(pg_databases)) as factory:
            record_id = new_record(factory)
            stripe_id = random_ref("py")
            with factory.begin() as session:
                claim_payment(session, stripe_id, record_id)  # claim committed on its own

            with factory() as worker_a, factory() as worker_b:
                worker_a.begin()
                held = claim_payment(worker_a, stripe_id, record_id)

                with pytest.raises(PostingLockedError), worker_b.begin():
                    claim_payment(worker_b, stripe_id, record_id)

                mark_posting_posted(worker_a, held, bc_journal_id="j1", bc_line_id="line-1")
                worker_a.commit()

                with worker_b.begin():
                    seen = claim_payment(worker_b, stripe_id, record_id)
                assert (seen.state, seen.bc_line_id) == (PostingState.POSTED, "line-1")

    def test_a_rival_of_an_uncommitted_claim_waits_then_sees_it_posted(
        self, pg_databases: NewDatabase
    ) -> None:
        with sessions(migrated(pg_databases)) as factory:
            record_id = new_record(factory)
            stripe_id = random_ref("py")
            seen: list[Posting] = []
            errors: list[BaseException] = []

            def rival() -> None:
                try:
                    with factory.begin() as session:
                        seen.append(claim_payment(session, stripe_id, record_id))
                except BaseException as exc:
                    errors.append(exc)

            with factory() as worker_a, factory() as observer:
                worker_a.begin()
                held = claim_payment(worker_a, stripe_id, record_id)
                thread = threading.Thread(target=rival)
                thread.start()

                def rival_waits_on_a_lock() -> bool:
                    waiting = observer.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                    observer.rollback()  # a fresh snapshot of pg_stat_activity next time
                    return bool(waiting)

                wait_until(rival_waits_on_a_lock, "the rival blocks on the uncommitted claim")
                mark_posting_posted(worker_a, held, bc_journal_id="j1", bc_line_id="line-1")
                worker_a.commit()
                thread.join(timeout=10)

            with factory() as session:
                rows = session.scalar(select(func.count()).where(Posting.stripe_id == stripe_id))

        assert errors == []
        assert [(p.state, p.bc_line_id) for p in seen] == [(PostingState.POSTED, "line-1")]
        assert rows == 1


class TestSqlitePostingLock:
    def test_an_open_claim_holds_the_write_lock_until_commit(
        self, sqlite_databases: NewDatabase
    ) -> None:
        # A private engine: the short busy timeout set below must not leak into pooled
        # connections used by other tests.
        with sessions(migrated(sqlite_databases)) as factory:
            record_id = new_record(factory)
            stripe_id = random_ref("py")

            # Every transaction begins IMMEDIATE: the second writer waits for the lock at its
            # BEGIN (here at most 50 ms, set on each new connection) and then gives up.
            event.listen(
                factory.kw["bind"],
                "connect",
                lambda dbapi, _rec: dbapi.execute("PRAGMA busy_timeout=50"),
            )
            with factory() as worker_a, factory() as worker_b:
                worker_a.begin()
                held = claim_payment(worker_a, stripe_id, record_id)

                with pytest.raises(OperationalError, match="database is locked"):
                    claim_payment(worker_b, stripe_id, record_id)
                worker_b.rollback()

                mark_posting_posted(worker_a, held, bc_journal_id="j1", bc_line_id="line-1")
                worker_a.commit()

                with worker_b.begin():
                    seen = claim_payment(worker_b, stripe_id, record_id)
                assert (seen.state, seen.bc_line_id) == (PostingState.POSTED, "line-1")
