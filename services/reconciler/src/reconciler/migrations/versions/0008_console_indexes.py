"""Indexes for the review console's search and Today page.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Issue 12: measured on 100,000 records (``bench/console_pages.py``), the console's search read
whole tables: a BC invoice number, a customer number and the customer's invoices were looked
up in ``invoice_links`` and ``customer_links`` without an index, and an amount scanned
``sync_records`` on SQLite. Today counted what moved since midnight by reading every record,
and found the last message of each source by reading the whole inbox.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sync_records_amount_minor", "sync_records", ["amount_minor"])
    op.create_index("ix_sync_records_updated_at", "sync_records", ["updated_at"])
    op.create_index("ix_invoice_links_bc_invoice_number", "invoice_links", ["bc_invoice_number"])
    op.create_index("ix_invoice_links_bc_customer_id", "invoice_links", ["bc_customer_id"])
    op.create_index(
        "ix_customer_links_bc_customer_number", "customer_links", ["bc_customer_number"]
    )
    op.create_index("ix_inbox_source_first_seen_at", "inbox", ["source", "first_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_source_first_seen_at", "inbox")
    op.drop_index("ix_customer_links_bc_customer_number", "customer_links")
    op.drop_index("ix_invoice_links_bc_customer_id", "invoice_links")
    op.drop_index("ix_invoice_links_bc_invoice_number", "invoice_links")
    op.drop_index("ix_sync_records_updated_at", "sync_records")
    op.drop_index("ix_sync_records_amount_minor", "sync_records")
