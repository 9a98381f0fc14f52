"""What of a pushed invoice the connector has told Stripe was paid outside it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Issue 14: a bank transfer or a check applied in BC lowers the invoice's open amount there; the
connector records that part on the Stripe invoice so the client cannot pay it twice, and keeps
the running total here, so each part is recorded once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_links") as batch:
        batch.add_column(
            sa.Column("paid_elsewhere_minor", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice_links") as batch:
        batch.drop_column("paid_elsewhere_minor")
