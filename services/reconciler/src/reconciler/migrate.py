"""Apply the reconciler's Alembic migrations to a database URL, without an ``alembic.ini``.

The migration scripts ship inside the package (``reconciler/migrations``), so the service image
can bring its database to the current schema on start-up or from an init container. Alembic is
configured in code: the script location comes from the package, and the URL never passes
through Alembic's configuration (it could carry a password and be interpolated or logged).

On SQLite, foreign-key enforcement is switched off for the duration of a migration, because
Alembic's batch mode recreates tables (copy, drop, rename) and dropping a referenced table with
enforcement on would fail or cascade. ``PRAGMA foreign_key_check`` runs before the commit, so a
migration that leaves a dangling reference still fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from mlconnector.db import make_engine

# "package:directory" lets Alembic find the scripts wherever the package is installed.
SCRIPT_LOCATION = "reconciler:migrations"


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (for example, dangling foreign keys)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic configuration; ``env.py`` uses ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@contextmanager
def _migration_connection(url: str) -> Iterator[Connection]:
    """A connection in one transaction, with SQLite foreign keys off for the migration."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Must happen outside a transaction (the pragma is a no-op inside one), so it
                # goes straight to the driver before SQLAlchemy emits BEGIN.
                connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA foreign_keys=OFF"
                )
            with connection.begin():
                yield connection
                if sqlite:
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if problems:
                        raise MigrationError(f"foreign key violations after migration: {problems}")
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    with _migration_connection(url) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` removes every table)."""
    with _migration_connection(url) as connection:
        command.downgrade(alembic_config(connection), revision)


def new_revision(url: str, message: str) -> None:
    """Autogenerate a new migration script by comparing the models with the database at ``url``.

    For developers: point it at a database migrated to head, then review the script.
    """
    with _migration_connection(url) as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
