"""What each balance transaction of a payout was, so the console can name its posting.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Issue 12: the payout page showed a payment's or refund's transaction only as "matched", since the
payout kept the transactions' ids and the postings are keyed by the Stripe object the money was
booked under (the transaction's source); and an invoice's story could not say which payout paid
its payments out. Each transaction a payout settles is now a row of ``payout_transactions``:
its type, source and Stripe's amounts, the source indexed. Payouts booked earlier have no rows:
their page says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payout_transactions",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("payout_id", BIG_ID, sa.ForeignKey("payouts.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("balance_transaction", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("reporting_category", sa.String(64), nullable=True),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("net_minor", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("payout_id", "balance_transaction"),
    )
    op.create_index(op.f("ix_payout_transactions_source"), "payout_transactions", ["source"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payout_transactions_source"), table_name="payout_transactions")
    op.drop_table("payout_transactions")
