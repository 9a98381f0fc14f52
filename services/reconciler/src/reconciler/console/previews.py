"""What an action would do, shown before a person confirms it (nothing is changed here).

A replay publishes the record's original message again: the preview says which message that
is, what its handler reads and calls, what it may write, and what already exists, so the
clerk sees that a replay of a settled payment cannot post it twice. Marking handled changes no
money: the preview says so and what the item was.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from reconciler.models import InboxMessage
from reconciler.models import InvoiceLink
from reconciler.models import Posting
from reconciler.models import RecordKind
from reconciler.models import SyncRecord
from reconciler.queries import count_replays
from reconciler.queries import source_message

# Per record kind: what its handler reads, calls and may write.
EFFECTS: dict[RecordKind, tuple[str, str, str]] = {
    RecordKind.INVOICE: (
        "the BC sales invoice and its customer (bc-gateway)",
        "Stripe: find or create the customer and the invoice, finalize it (stripe-gateway)",
        "one Stripe invoice at most: the push is keyed by the BC invoice id",
    ),
    RecordKind.PAYMENT: (
        "the Stripe charge and the invoice it paid (stripe-gateway)",
        "BC: the invoice's open amount, then one payment journal line (bc-gateway)",
        "one BC payment line at most: the posting is keyed by the Stripe charge id",
    ),
    RecordKind.REFUND: (
        "the Stripe refund (stripe-gateway)",
        "BC: one general journal line for the cash leg (bc-gateway)",
        "one BC line at most: the posting is keyed by the Stripe refund id",
    ),
    RecordKind.DISPUTE: (
        "the Stripe dispute and its balance transactions (stripe-gateway)",
        "BC: one general journal line per balance transaction not booked yet",
        "one BC line per balance transaction at most",
    ),
    RecordKind.PAYOUT: (
        "the Stripe payout and its balance transactions (stripe-gateway)",
        "BC: the payout's fee, FX and bank lines (bc-gateway)",
        "the payout's lines once: the payout is claimed by its Stripe id",
    ),
    RecordKind.CREDIT_MEMO: (
        "the BC credit memo and the Stripe invoice it credits",
        "Stripe: void the invoice or create one credit note (stripe-gateway)",
        "one credit note at most: it is keyed by the BC credit memo id",
    ),
    RecordKind.CUSTOMER: (
        "the BC customer (bc-gateway)",
        "Stripe: update the linked customer (stripe-gateway)",
        "no money; the customer's name and e-mail in Stripe",
    ),
}


@dataclasses.dataclass(frozen=True)
class ReplayPreview:
    record: SyncRecord
    message: InboxMessage | None
    replays: int
    reads: str
    calls: str
    writes: str
    postings: list[Posting]
    link: InvoiceLink | None

    @property
    def replayable(self) -> bool:
        return self.message is not None and self.message.payload is not None

    @property
    def why_not(self) -> str | None:
        if self.record.source_message_id is None:
            return "This record has no source message: there is nothing to replay."
        if not self.replayable:
            return "Its source message is no longer kept, so it cannot be replayed."
        return None


def replay_preview(session: Session, record: SyncRecord) -> ReplayPreview:
    message = (
        source_message(session, record.source_message_id) if record.source_message_id else None
    )
    reads, calls, writes = EFFECTS.get(
        record.kind, ("the message's object", "the handler for its type", "nothing twice")
    )
    postings = list(session.scalars(select(Posting).where(Posting.record_id == record.id)))
    link = None
    if record.kind is RecordKind.INVOICE and record.bc_ref:
        link = session.scalar(select(InvoiceLink).where(InvoiceLink.bc_invoice_id == record.bc_ref))
    return ReplayPreview(
        record, message, count_replays(session, record.id), reads, calls, writes, postings, link
    )
