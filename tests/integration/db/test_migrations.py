"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column
from sqlalchemy import Engine
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import inspect
from sqlalchemy import text

import reconciler.models  # noqa: F401  (registers the tables on Base.metadata)
from mlconnector.db import NAMING_CONVENTION
from mlconnector.db import Base
from mlconnector.db import make_engine
from reconciler import migrate

NewDatabase = Callable[[], str]
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).isoformat()

TABLES = {
    "inbox",
    "sync_records",
    "audit_events",
    "customer_links",
    "invoice_links",
    "postings",
    "payouts",
    "payout_transactions",
    "dead_letters",
    "journal_batches",
}


def differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write to turn the database into ``metadata``."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


class TestUpgrade:
    def test_upgrade_creates_every_table_and_records_the_head_revision(
        self, new_database: NewDatabase
    ) -> None:
        url = new_database()
        assert migrate.current(url) is None

        migrate.upgrade(url)

        assert table_names(url) == TABLES | {"alembic_version"}
        assert migrate.current(url) == migrate.head_revision() == "0010"

    def test_upgrading_an_up_to_date_database_changes_nothing(self, migrated_url: str) -> None:
        migrate.upgrade(migrated_url)

        assert migrate.current(migrated_url) == migrate.head_revision()
        assert table_names(migrated_url) == TABLES | {"alembic_version"}


class TestModelsMatchMigrations:
    def test_autogenerate_finds_no_difference_after_upgrade(self, engine: Engine) -> None:
        assert differences(engine, Base.metadata) == []

    def test_the_comparison_does_detect_drift(self, engine: Engine) -> None:
        # Guards the test above against comparing nothing: a changed length and an extra
        # column in a copy of the models must both be reported.
        drifted = MetaData(naming_convention=NAMING_CONVENTION)
        for table in Base.metadata.sorted_tables:
            table.to_metadata(drifted)
        inbox = drifted.tables["inbox"]
        inbox.append_column(Column("extra", Integer, nullable=True))
        inbox.c.routing_key.type = String(100)

        found = differences(engine, drifted)

        kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in found}
        assert kinds == {"add_column", "modify_type"}

    def test_constraints_carry_the_conventional_names(self, engine: Engine) -> None:
        inspector = inspect(engine)

        uniques = {c["name"] for c in inspector.get_unique_constraints("customer_links")}
        foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("postings")}
        indexes = {ix["name"] for ix in inspector.get_indexes("audit_events")}

        assert uniques == {
            "uq_customer_links_bc_company_id_bc_customer_id",
            "uq_customer_links_stripe_customer_id",
        }
        assert foreign_keys == {"fk_postings_record_id_sync_records"}
        assert "ix_audit_events_record_id_created_at" in indexes


class TestDowngrade:
    def test_downgrade_to_base_then_upgrade_restores_the_same_schema(
        self, new_database: NewDatabase
    ) -> None:
        url = new_database()
        migrate.upgrade(url)

        migrate.downgrade(url, "base")

        assert migrate.current(url) is None
        assert table_names(url) & TABLES == set()

        migrate.upgrade(url)

        assert migrate.current(url) == migrate.head_revision()
        engine = make_engine(url)
        try:
            assert differences(engine, Base.metadata) == []
        finally:
            engine.dispose()


class TestLeaseMigration:
    def test_postings_written_before_leases_survive_the_upgrade_and_its_downgrade(
        self, new_database: NewDatabase
    ) -> None:
        url = new_database()
        migrate.upgrade(url, "0001")
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO sync_records (id, kind, business_key, state, attempts, "
                        "flags, created_at, updated_at) VALUES (1, 'payment', 'stripe:payment:"
                        "ch_1', 'succeeded', 0, '{}', :now, :now)"
                    ),
                    {"now": NOW},
                )
                connection.execute(
                    text(
                        "INSERT INTO postings (id, stripe_id, kind, state, record_id, "
                        "bc_company_id, amount, amount_minor, currency, claimed_at) VALUES "
                        "(1, 'ch_1', 'payment', 'posted', 1, 'c1', -10.5, 1050, 'usd', :now)"
                    ),
                    {"now": NOW},
                )
            migrate.upgrade(url)
            with engine.connect() as connection:
                row = connection.execute(
                    text("SELECT stripe_id, state, claimed_by, lease_expires_at FROM postings")
                ).one()
            assert tuple(row) == ("ch_1", "posted", None, None)

            migrate.downgrade(url, "0001")
            columns = {c["name"] for c in inspect(engine).get_columns("postings")}
            assert {"claimed_by", "lease_expires_at"} & columns == set()
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM postings")).scalar() == 1
        finally:
            engine.dispose()
