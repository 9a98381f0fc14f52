"""What each payout settled: its balance transactions and its FX difference.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Issue 13: the daily drift check tells Stripe's balance transactions that a booked payout
settled from those still in flight, and the foreign-currency check adds up what the connector
booked on each clearing account, FX differences included.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(
            sa.Column("transactions", JSON_DOCUMENT, nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("fx_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("fx_minor")
        batch.drop_column("transactions")
