"""Fixtures for the reconciler's read queries and API on both databases: SQLite and PostgreSQL.

Each backend gets one database per module, migrated to head; every test empties the tables
afterwards, because the API and the replay open their own sessions and commit. PostgreSQL is a
throwaway database created through an AUTOCOMMIT connection to the ``postgres`` maintenance
database (as tests/integration/db/conftest.py does) and dropped at the end; an unreachable
server fails the run, it never skips.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from reconciler import migrate
from reconciler.models import AuditEvent
from reconciler.models import InboxMessage
from reconciler.models import Payout
from reconciler.models import Posting
from reconciler.models import SyncRecord


@pytest.fixture(scope="module")
def postgres_url(pg_databases: Callable[[], str]) -> str:
    """A fresh, migrated PostgreSQL database for this module (dropped with the module)."""
    url = pg_databases()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("api-sqlite") / "reconciler.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """The migrated database of this module, once per backend."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory on the module's database; every table is emptied after the test."""
    factory = make_session_factory(engine)
    yield factory
    with factory.begin() as session:
        for table in (AuditEvent, Posting, Payout, SyncRecord, InboxMessage):
            session.execute(delete(table))
