"""Fixtures for the reconciler database tests, parametrised over SQLite and PostgreSQL.

Every test module gets fresh databases: a SQLite file under a temporary directory, and a
uniquely named PostgreSQL database created through an AUTOCOMMIT connection to the ``postgres``
maintenance database and dropped at teardown. The PostgreSQL server comes from
``MLC_TEST_DATABASE_URL``; if it cannot be reached the tests fail with a clear message, they
never skip. Tests that only read and write rows use ``session``: one outer transaction per test
with savepoints for the code under test, rolled back at teardown (Warehouse's pattern).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mlconnector.db import make_engine
from reconciler import migrate

NewDatabase = Callable[[], str]


def random_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> NewDatabase:
    """Factory of empty SQLite files (the files go with the temporary directory)."""
    directory: Path = tmp_path_factory.mktemp("sqlite")
    return lambda: f"sqlite:///{directory / random_name('mlc_test')}.db"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def new_database(request: pytest.FixtureRequest) -> NewDatabase:
    """Factory of empty databases, once per backend: every test using it runs on both."""
    fixture = {"sqlite": "sqlite_databases", "postgresql": "pg_databases"}[request.param]
    factory: NewDatabase = request.getfixturevalue(fixture)
    return factory


@pytest.fixture(scope="module")
def migrated_url(new_database: NewDatabase) -> str:
    """A database of this module, migrated to head."""
    url = new_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction rolled back afterwards."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
