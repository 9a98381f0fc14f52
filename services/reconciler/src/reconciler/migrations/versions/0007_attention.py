"""Why a record needs a person, as an indexed column for the review console's queue.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Issue 12: the console's queue and its search answer from indexes, not from JSON flags. Existing
rows get their value from the same rule the ORM applies to every later write
(``reconciler.attention``), a page of rows at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reconciler.attention import attention_of

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 1000


def upgrade() -> None:
    with op.batch_alter_table("sync_records") as batch:
        batch.add_column(sa.Column("attention", sa.String(32), nullable=True))
    op.create_index("ix_sync_records_attention_id", "sync_records", ["attention", "id"])
    op.create_index("ix_sync_records_bc_number", "sync_records", ["bc_number"])
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, state, flags FROM sync_records WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": PAGE},
        ).all()
        if not rows:
            break
        for row in rows:
            flags = json.loads(row.flags) if isinstance(row.flags, str) else row.flags
            kind = attention_of(row.state, flags)
            if kind:
                connection.execute(
                    sa.text("UPDATE sync_records SET attention = :kind WHERE id = :id"),
                    {"kind": kind, "id": row.id},
                )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_sync_records_bc_number", "sync_records")
    op.drop_index("ix_sync_records_attention_id", "sync_records")
    with op.batch_alter_table("sync_records") as batch:
        batch.drop_column("attention")
