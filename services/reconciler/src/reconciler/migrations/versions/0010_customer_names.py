"""A customer's name and e-mail on its link, so the console's search finds it by them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

Issue 12: a billing clerk knows a customer as "Fabrikam" or ap@fabrikam.com, and the review
console's search found only numbers and ids, since no record kept a name or an e-mail. The
customer link now keeps the BC customer's name and e-mail as of the last sync, each beside its
search form (case-folded, ``CustomerLink.search_key``); the e-mail's is indexed, the name is
matched within this small table (one row per customer). Links made earlier are filled by the
customer's next sync (its next invoice or change in BC); until then they are found by number.
An unmatched payment's payer goes in its record's flags (``reconciler.payers`` says why).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_links") as batch:
        batch.add_column(sa.Column("name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("name_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("email_key", sa.String(320), nullable=True))
    op.create_index("ix_customer_links_email_key", "customer_links", ["email_key"])


def downgrade() -> None:
    op.drop_index("ix_customer_links_email_key", "customer_links")
    with op.batch_alter_table("customer_links") as batch:
        batch.drop_column("email_key")
        batch.drop_column("name_key")
        batch.drop_column("email")
        batch.drop_column("name")
