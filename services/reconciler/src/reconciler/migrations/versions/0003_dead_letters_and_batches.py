"""Dead letters kept for people, journal batches posted by one poster, when a line was posted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Issue 11: every message the broker dead-letters is recorded whole (``dead_letters``) and tied
to a failed record; journal batches are posted by one poster at a time across all consumer
processes (``journal_batches`` holds its lease and whether lines wait); a posting remembers
when its batch was posted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("dead_key", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("message_type", sa.String(128), nullable=True),
        sa.Column("routing_key", sa.String(255), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("headers", JSON_DOCUMENT, nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("record_id", BIG_ID, sa.ForeignKey("sync_records.id"), nullable=True),
        sa.Column("dead_lettered_at", TIMESTAMP, nullable=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("dead_key"),
    )
    op.create_index(op.f("ix_dead_letters_message_id"), "dead_letters", ["message_id"])
    op.create_index(op.f("ix_dead_letters_record_id"), "dead_letters", ["record_id"])
    op.create_index(op.f("ix_dead_letters_recorded_at"), "dead_letters", ["recorded_at"])
    op.create_table(
        "journal_batches",
        sa.Column("journal", sa.String(20), primary_key=True),
        sa.Column("written_seq", sa.BigInteger(), nullable=False),
        sa.Column("posted_seq", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("last_posted_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("postings") as batch:
        batch.add_column(sa.Column("batch_posted_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        batch.drop_column("batch_posted_at")
    op.drop_table("journal_batches")
    op.drop_index(op.f("ix_dead_letters_recorded_at"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_record_id"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_message_id"), table_name="dead_letters")
    op.drop_table("dead_letters")
