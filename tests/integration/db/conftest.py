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
from sqlalchemy import create_engine
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mlconnector.db import make_engine
from reconciler import migrate

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

NewDatabase = Callable[[], str]


def pg_base_url() -> URL:
    """The PostgreSQL server under test (its database part is replaced per test module)."""
    url = make_url(os.environ.get("MLC_TEST_DATABASE_URL", DEFAULT_PG_URL))
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def random_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """AUTOCOMMIT engine on the ``postgres`` database, for CREATE/DROP DATABASE."""
    url = pg_base_url().set(database="postgres")
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {url.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}). Start it or set "
            "MLC_TEST_DATABASE_URL; these tests never skip.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_databases(pg_admin: Engine) -> Iterator[NewDatabase]:
    """Factory of empty PostgreSQL databases; all are dropped when the module ends."""
    created: list[str] = []

    def create() -> str:
        name = random_name("mlc_test")
        with pg_admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return pg_base_url().set(database=name).render_as_string(hide_password=False)

    yield create
    with pg_admin.connect() as connection:
        for name in created:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
