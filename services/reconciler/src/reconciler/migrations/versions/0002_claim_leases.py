"""Leases on posting and payout claims (no transaction open across a BC call); postings by invoice.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

A claim used to be a row lock (PostgreSQL) or the database's single write lock (SQLite) held
while bc-gateway wrote to BC. On SQLite that stopped every other writer for the length of the
call. A claim is now a committed lease: who holds it (one handling attempt of one message) and
until when; a crashed holder's lease runs out and the next attempt takes the work over.

Postings are also looked up by their BC invoice now (is a paid Stripe invoice already covered by
its postings?), hence the index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
TABLES = ("postings", "payouts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))
            batch.add_column(sa.Column("lease_expires_at", TIMESTAMP, nullable=True))
    op.create_index(op.f("ix_postings_bc_invoice_id"), "postings", ["bc_invoice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_postings_bc_invoice_id"), table_name="postings")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_expires_at")
            batch.drop_column("claimed_by")
