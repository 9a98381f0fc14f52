"""What each balance transaction of a payout was, so the console can name its posting.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Issue 12: the payout page showed a payment's or refund's transaction only as "matched", since the
payout kept the transactions' ids and the postings are keyed by the Stripe object the money was
booked under (the transaction's source). Each transaction's type, booking key and Stripe amounts
are now kept beside the ids. Payouts booked earlier keep an empty mapping: the page says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(
            sa.Column("transaction_details", JSON_DOCUMENT, nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("transaction_details")
