"""One invoice's story: BC invoice → Stripe invoice → payments → BC lines → refunds → payouts.

Starting from any record (the invoice's own, a payment's, a refund's, a credit memo's), the
story finds the invoice link and gathers every record that concerns that invoice: the invoice
record (by its BC id), the payments posted against it (``postings``), the refunds of its
payments (by the BC invoice the refund record names), credit memos on its Stripe invoice, and
their audit rows merged into one timeline; then the payouts that took its payments and refunds to
the bank, found through the sources of the payouts' balance transactions (``PayoutTransaction``,
indexed by source). A record that concerns no invoice (a payout, an unmatched payment) tells its
own story: itself and its trail.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from reconciler.models import AuditEvent
from reconciler.models import InvoiceLink
from reconciler.models import Payout
from reconciler.models import PayoutTransaction
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import SyncRecord

MAX_EVENTS = 500


@dataclasses.dataclass(frozen=True)
class PaidOut:
    """A payout that settled some of the story's payments or refunds (``sources``)."""

    payout: Payout
    sources: tuple[str, ...]


@dataclasses.dataclass
class Story:
    focus: SyncRecord
    link: InvoiceLink | None
    records: list[SyncRecord]
    postings: list[Posting]
    payout: Payout | None
    events: list[AuditEvent]
    truncated: bool
    paid_out: list[PaidOut] = dataclasses.field(default_factory=list)

    @property
    def invoice_record(self) -> SyncRecord | None:
        return next((r for r in self.records if r.kind is RecordKind.INVOICE), None)

    @property
    def payment_link(self) -> str | None:
        invoice = self.invoice_record
        return (invoice.flags or {}).get("payment_link") if invoice else None

    def records_of(self, kind: RecordKind) -> list[SyncRecord]:
        return [r for r in self.records if r.kind is kind]

    def posting_of(self, record: SyncRecord) -> Posting | None:
        return next((p for p in self.postings if p.record_id == record.id), None)


def _link_for(session: Session, record: SyncRecord) -> InvoiceLink | None:
    if record.kind is RecordKind.INVOICE and record.bc_ref:
        # With the company, the link's unique (company, invoice) index finds it; the invoice
        # id alone would read every link (a sequential scan: 15 ms on 50,000 invoices).
        by_id = select(InvoiceLink).where(InvoiceLink.bc_invoice_id == record.bc_ref)
        if record.bc_company_id:
            by_id = by_id.where(InvoiceLink.bc_company_id == record.bc_company_id)
        return session.scalar(by_id)
    if record.kind is RecordKind.CREDIT_MEMO and record.stripe_ref:
        return session.scalar(
            select(InvoiceLink).where(InvoiceLink.stripe_invoice_id == record.stripe_ref)
        )
    if record.kind is RecordKind.REFUND and record.bc_company_id and record.bc_ref:
        # Its posting is the cash leg to G/L and names no invoice; the record names it.
        return session.scalar(
            select(InvoiceLink).where(
                InvoiceLink.bc_company_id == record.bc_company_id,
                InvoiceLink.bc_invoice_id == record.bc_ref,
            )
        )
    posting = session.scalar(select(Posting).where(Posting.record_id == record.id))
    if posting is not None and posting.bc_invoice_id:
        return session.scalar(
            select(InvoiceLink).where(
                InvoiceLink.bc_company_id == posting.bc_company_id,
                InvoiceLink.bc_invoice_id == posting.bc_invoice_id,
            )
        )
    return None


def _paid_out(session: Session, sources: set[str]) -> list[PaidOut]:
    """The payouts whose balance transactions came from ``sources`` (charges, refunds)."""
    if not sources:
        return []
    found: dict[int, tuple[Payout, list[str]]] = {}
    rows = session.execute(
        select(Payout, PayoutTransaction.source)
        .join(PayoutTransaction, PayoutTransaction.payout_id == Payout.id)
        .where(PayoutTransaction.source.in_(sorted(sources)))
        .order_by(Payout.id, PayoutTransaction.position)
    )
    for payout, source in rows:
        found.setdefault(payout.id, (payout, []))[1].append(str(source))
    return [PaidOut(payout, tuple(dict.fromkeys(names))) for payout, names in found.values()]


def load_story(session: Session, record_id: int) -> Story | None:
    focus = session.get(SyncRecord, record_id)
    if focus is None:
        return None
    link = _link_for(session, focus)
    postings: list[Posting] = []
    records = [focus]
    if link is not None:
        postings = list(
            session.scalars(
                select(Posting)
                .where(
                    Posting.bc_company_id == link.bc_company_id,
                    Posting.bc_invoice_id == link.bc_invoice_id,
                )
                .order_by(Posting.id)
            )
        )
        related = session.scalars(
            select(SyncRecord)
            .where(
                or_(
                    (SyncRecord.kind == RecordKind.INVOICE)
                    & (SyncRecord.bc_ref == link.bc_invoice_id),
                    (SyncRecord.kind == RecordKind.CREDIT_MEMO)
                    & (SyncRecord.stripe_ref == link.stripe_invoice_id),
                    # A refund's cash leg is booked to G/L, not against the invoice, so no
                    # posting names the invoice: the refund record does (``handlers.refunds``).
                    (SyncRecord.kind == RecordKind.REFUND)
                    & (SyncRecord.bc_company_id == link.bc_company_id)
                    & (SyncRecord.bc_ref == link.bc_invoice_id),
                    SyncRecord.id.in_([p.record_id for p in postings] or [-1]),
                )
            )
            .order_by(SyncRecord.id)
        )
        records = sorted({r.id: r for r in [focus, *related]}.values(), key=lambda r: r.id)
    else:
        postings = list(session.scalars(select(Posting).where(Posting.record_id == focus.id)))
    payout = None
    if focus.kind is RecordKind.PAYOUT:
        payout = session.scalar(select(Payout).where(Payout.record_id == focus.id))
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.record_id.in_([r.id for r in records]))
            .order_by(AuditEvent.created_at, AuditEvent.id)
            .limit(MAX_EVENTS + 1)
        )
    )
    truncated = len(events) > MAX_EVENTS
    moved = {p.stripe_id for p in postings if p.kind in (PostingKind.PAYMENT, PostingKind.REFUND)}
    moved |= {r.stripe_ref for r in records if r.kind is RecordKind.REFUND and r.stripe_ref}
    return Story(
        focus,
        link,
        records,
        postings,
        payout,
        events[:MAX_EVENTS],
        truncated,
        _paid_out(session, moved),
    )
