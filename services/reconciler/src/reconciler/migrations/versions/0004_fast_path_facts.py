"""What the connector knows of a BC invoice and customer, so the hot path can skip reads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Issue 15: a payment's hot path costs one BC call (the line's write) when the connector's own
records prove the look-ups unnecessary. The invoice link keeps what the push read from BC (the
customer, its open amount and when BC last changed the invoice) and when BC was seen changing
it since; the customer link keeps a digest of what was last sent to Stripe, so an unchanged
customer costs no Stripe call; a posting counts its write attempts, so the first one (which no
earlier attempt can have written) skips the look-before-write.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("invoice_links") as batch:
        batch.add_column(sa.Column("bc_customer_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("bc_open_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("bc_modified_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("bc_changed_at", TIMESTAMP, nullable=True))
    with op.batch_alter_table("customer_links") as batch:
        batch.add_column(sa.Column("synced_digest", sa.String(64), nullable=True))
    with op.batch_alter_table("postings") as batch:
        batch.add_column(
            sa.Column("write_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        batch.drop_column("write_attempts")
    with op.batch_alter_table("customer_links") as batch:
        batch.drop_column("synced_digest")
    with op.batch_alter_table("invoice_links") as batch:
        batch.drop_column("bc_changed_at")
        batch.drop_column("bc_modified_at")
        batch.drop_column("bc_open_minor")
        batch.drop_column("bc_customer_id")
