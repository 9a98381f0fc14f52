"""``mlconnector.db`` engines: SQLite set up for a service, PostgreSQL by URL, readiness probe."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import random_ref
from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import InternalError
from sqlalchemy.exc import OperationalError

from mlconnector.db import SQLITE_BUSY_TIMEOUT_MS
from mlconnector.db import check_database
from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from mlconnector.db import read_only_session
from mlconnector.db import safe_url
from reconciler.models import InboxMessage
from reconciler.models import MessageSource

PASSWORD = "pw-7f3a9c1e-never-logged"
SHORT_BUSY = "PRAGMA busy_timeout=50"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/reconciler.db")
    yield engine
    engine.dispose()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


class TestSqliteEngine:
    def test_the_parent_directory_of_the_file_is_created(
        self, tmp_path: Path, sqlite_engine: Engine
    ) -> None:
        with sqlite_engine.connect() as connection:
            connection.execute(text("SELECT 1"))

        assert (tmp_path / "nested" / "dir" / "reconciler.db").is_file()

    def test_every_connection_gets_the_service_pragmas(self, sqlite_engine: Engine) -> None:
        with sqlite_engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout", "synchronous")
            }

        assert pragmas == {
            "foreign_keys": 1,
            "journal_mode": "wal",
            "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
            "synchronous": 1,  # NORMAL
        }

    def test_a_rolled_back_transaction_undoes_a_released_savepoint(
        self, sqlite_engine: Engine
    ) -> None:
        # Needs SQLAlchemy to emit BEGIN itself: in the sqlite3 driver's legacy mode a SAVEPOINT
        # opened before any DML runs outside the transaction and survives the rollback.
        with sqlite_engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with sqlite_engine.connect() as connection:
            outer = connection.begin()
            with connection.begin_nested():
                connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            outer.rollback()
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


class TestPostgresEngine:
    def test_a_bare_postgresql_url_uses_psycopg_and_hides_the_password(self) -> None:
        engine = make_engine(f"postgresql://mlc:{PASSWORD}@127.0.0.1:1/reconciler")
        try:
            assert engine.dialect.driver == "psycopg"
            assert PASSWORD not in safe_url(engine)
            assert PASSWORD not in repr(engine)
        finally:
            engine.dispose()


class TestCheckDatabase:
    def test_a_migrated_database_is_ready(self, engine: Engine) -> None:
        assert check_database(engine, timeout=5) is True

    def test_a_refused_connection_is_not_ready_and_the_log_hides_the_password(
        self, closed_port: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        engine = make_engine(f"postgresql+psycopg://mlc:{PASSWORD}@127.0.0.1:{closed_port}/x")
        try:
            with caplog.at_level(logging.WARNING, logger="mlconnector.db"):
                ready = check_database(engine, timeout=5)
        finally:
            engine.dispose()

        assert ready is False
        assert "readiness check failed" in caplog.text
        assert PASSWORD not in caplog.text

    def test_a_server_that_never_answers_is_not_ready(self, silent_server: int) -> None:
        engine = make_engine(f"postgresql+psycopg://mlc@127.0.0.1:{silent_server}/x")
        try:
            assert check_database(engine, timeout=0.2) is False
        finally:
            engine.dispose()


class TestSessionFactory:
    def test_committed_objects_stay_loaded(self, engine: Engine) -> None:
        factory = make_session_factory(engine)
        message_id = random_ref("evt")

        with factory.begin() as session:
            row = InboxMessage(message_id=message_id, message_type="t", source=MessageSource.BC)
            session.add(row)

        # Readable after the session is gone: nothing was expired by the commit.
        assert inspect(row).expired_attributes == set()
        assert row.message_id == message_id
        with factory() as session:
            assert session.scalar(select(InboxMessage.id).filter_by(message_id=message_id))


class TestReadOnlySession:
    def test_on_sqlite_a_reader_does_not_queue_behind_an_open_writer(
        self, sqlite_engine: Engine
    ) -> None:
        factory = make_session_factory(sqlite_engine)
        with factory.begin() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        event.listen(sqlite_engine, "connect", lambda dbapi, _rec: dbapi.execute(SHORT_BUSY))

        with factory() as writer:
            writer.begin()
            writer.execute(text("INSERT INTO t VALUES (2)"))  # holds the write lock
            with read_only_session(factory) as reader:
                # The committed snapshot, at once: the uncommitted row is not in it.
                assert reader.scalar(text("SELECT count(*) FROM t")) == 1
            with pytest.raises(OperationalError, match="database is locked"), factory() as other:
                other.scalar(text("SELECT count(*) FROM t"))  # a normal session waits, fails
            writer.commit()

    def test_writing_through_it_is_refused(self, engine: Engine) -> None:
        factory = make_session_factory(engine)
        with read_only_session(factory) as session:
            session.add(InboxMessage(message_id=random_ref("evt"), message_type="t", source="bc"))
            with pytest.raises((InternalError, OperationalError)):
                session.flush()
