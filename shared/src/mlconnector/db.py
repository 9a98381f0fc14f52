"""Database plumbing shared by every service that keeps state: engine, sessions, portable types.

The same code runs on a SQLite file (one machine, the default) and on PostgreSQL (production);
only the URL differs. This module hides the differences that would otherwise leak into models
and queries:

- ``make_engine`` sets up each dialect properly: SQLite gets WAL, a busy timeout, enforced
  foreign keys and real transactions (SQLAlchemy emits ``BEGIN`` itself, because the ``sqlite3``
  driver's legacy mode skips it before SELECT and SAVEPOINT); PostgreSQL gets pre-ping so a
  restarted server costs one reconnect, not one failed message.
- ``UTCDateTime`` always hands back timezone-aware UTC datetimes (SQLite stores none).
- ``ExactDecimal`` keeps BC amounts exact: SQLite would turn a NUMERIC into a 15-digit float, so
  there the value is stored as text.
- ``Base`` carries a constraint naming convention, so Alembic migrations name every constraint
  the same way on both dialects and later migrations can drop or alter them by name.

Nothing here builds an engine at import time, and database URLs are never logged: they may
carry a password, which ``make_engine`` registers with ``mlconnector.redaction``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from decimal import localcontext
from pathlib import Path
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import Dialect
from sqlalchemy import Engine
from sqlalchemy import MetaData
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator
from sqlalchemy.types import TypeEngine

from mlconnector.redaction import redact
from mlconnector.redaction import register_secret

logger = logging.getLogger(__name__)

DEFAULT_SQLITE_URL = "sqlite:///var/reconciler.db"

# Milliseconds a SQLite writer waits for the single write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000
# Connection execution option marking a transaction that only reads (``read_only_session``).
READ_ONLY_OPTION = "mlc_read_only"

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every mapped table; constraint names follow ``NAMING_CONVENTION``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite. Python None is
# stored as SQL NULL, not as the JSON literal null, so "IS NULL" means what it says.
JSONDocument: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind stored)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    PostgreSQL keeps the instant in ``timestamptz``; SQLite keeps text without an offset, so the
    value is converted to UTC before it is written and marked UTC when read. Naive datetimes are
    refused rather than guessed: a naive local time silently stored as UTC is a bug that only
    shows months later.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A fixed-point Decimal: ``NUMERIC(precision, scale)`` on PostgreSQL, text on SQLite.

    Values are checked on the way in, identically on both dialects: floats are refused (money is
    never a float), and a value with more decimal places than ``scale`` or more integer digits
    than ``precision - scale`` is an error instead of being rounded by PostgreSQL or mangled by
    SQLite. Values come back quantized to ``scale`` on both dialects. On SQLite the column holds
    text, so compare and sum these amounts in Python, not in SQL.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 28, scale: int = 10) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)
        self._limit = Decimal(10) ** (precision - scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # Sign, integer digits, point, decimals: precision + 2 characters at most.
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def _exact(self, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        if value.copy_abs() >= self._limit:  # copy_abs is exact; abs() rounds to context
            raise ValueError(f"more than {self.precision - self.scale} integer digits: {value}")
        with localcontext() as ctx:
            # Below the limit, precision + 1 digits hold any quantized value without rounding.
            ctx.prec = self.precision + 1
            quantized = value.quantize(self._quantum)
        if quantized != value:
            raise ValueError(f"more than {self.scale} decimal places: {value}")
        return quantized

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"amounts must be Decimal or int, not {type(value).__name__}")
        exact = self._exact(Decimal(value))
        if dialect.name == "sqlite":
            return format(exact, "f")
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        with localcontext() as ctx:
            ctx.prec = self.precision + 1
            return Decimal(str(value)).quantize(self._quantum)


def _normalise_url(raw: str) -> URL:
    """Parse the URL; a bare ``postgresql://`` means psycopg 3 (the driver we ship)."""
    url = make_url(raw)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas on every new connection, and SQLAlchemy-controlled transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 driver from managing transactions (it would not BEGIN before a SELECT
        # or a SAVEPOINT); the "begin" hook below emits BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # NORMAL is durable in WAL mode except for the last commits on power loss.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the single write lock at BEGIN, waiting up to busy_timeout for it.
        # A deferred BEGIN would read first and fail at its first write with "database is
        # locked" (SQLITE_BUSY_SNAPSHOT, which the busy handler never waits on) whenever another
        # writer committed in between: with several consumer threads that is every other minute.
        # A read-only session (``read_only_session``) never writes, so it begins deferred and
        # reads its WAL snapshot beside the writer instead of queueing for the lock.
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql("PRAGMA query_only=ON")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        # query_only belongs to the pooled DBAPI connection: lift it before the pool reuses it.
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("PRAGMA query_only=OFF")


def make_engine(url: str) -> Engine:
    """Build the engine for ``url`` (SQLite file or PostgreSQL); never echoes SQL or the URL.

    For a SQLite file the parent directory is created, so the default
    ``sqlite:///var/reconciler.db`` works from a fresh checkout.
    """
    parsed = _normalise_url(url)
    if parsed.password:
        register_secret(str(parsed.password))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=False)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 10
    return create_engine(parsed, echo=False, pool_pre_ping=True, connect_args=connect_args)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (rows are read after the unit of work)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def read_only_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for queries only: on SQLite it does not take the write lock (see above).

    Writing through it is a mistake the database refuses: the transaction is READ ONLY on
    PostgreSQL and ``query_only`` on SQLite. Use ``factory.begin()`` to write.
    """
    with factory() as session:
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        if session.get_bind().dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        session.connection(execution_options=options)
        yield session


def safe_url(engine: Engine) -> str:
    """The engine's URL for humans, with the password hidden."""
    return engine.url.render_as_string(hide_password=True)


def check_database(engine: Engine, timeout: float = 2.0) -> bool:
    """Readiness probe: True if ``SELECT 1`` answers within ``timeout`` seconds.

    The query runs in a daemon thread so that a hung connect cannot hang the probe; a late
    answer counts as a failure. Failures are logged without the URL.
    """
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1")).scalar_one()
        except Exception as exc:  # any failure at all means "not ready"
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=probe, name="db-readiness", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        logger.warning("database readiness check timed out after %.1f s", timeout)
        return False
    error = outcome[0]
    if error is not None:
        logger.warning(
            "database readiness check failed: %s: %s",
            type(error).__name__,
            redact(str(error).splitlines()[0] if str(error) else ""),
        )
        return False
    return True
