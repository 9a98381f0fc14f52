"""Recovering the Stripe invoice an earlier push created but never heard back about (issue 11, 3).

A push whose answer was lost (Stripe's or the gateway's answer was a 5xx or never came, the
consumer died) may still have created, even finalized, the Stripe invoice, and the client may
have paid it before the retry came. Such a record has attempts, an error or an unfinished
delivery behind it, and no Stripe reference. Before it is settled as needing no push (the BC
invoice is paid, canceled or gone), the invoice is looked for by the BC ids the push wrote into
its metadata (stripe-gateway ``GET /commands/invoices/by-bc``): in the linked Stripe customer's
invoice list, which is strongly consistent, or through Stripe's search when no customer is
linked, which may lag by about a minute (stripe-api.md §4). What is found decides:

- a finalized invoice (open, paid, uncollectible, void) is linked: the link row, the record's
  reference and amount, ``succeeded``, the stale error cleared, and the story told. One still
  payable while BC no longer expects a payment is flagged for review, not voided: a void is
  irreversible, and whether the client still owes it is a person's call;
- a draft (created, never finalized) is deleted, since BC no longer wants it paid: Stripe deletes
  drafts only (voids finalized invoices only), a draft has no number and was never sent, and
  the delete is refused once the invoice is finalized, so a racing finalize is never undone. The
  record is then skipped like any invoice that needs no push. (While the BC invoice is open the
  push itself resumes the draft and finalizes it: ``attempt`` > 1 makes the gateway look first.)

The look-up is one Stripe list call, paid only on these paths: a fresh record never makes it.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlconnector.db import utcnow
from mlconnector.money import format_amount
from reconciler.adapters.http import GatewayRejected
from reconciler.models import CustomerLink
from reconciler.models import InvoiceLink
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.models import normalise_currency
from reconciler.rules import HandlerDeps
from reconciler.store import dialect_insert
from reconciler.unit import Unit

# Statuses in which the client can still pay a Stripe invoice.
PAYABLE = ("open", "uncollectible")
REVIEW_FLAG = "stripe_invoice_payable_but_bc_closed"


@dataclasses.dataclass(frozen=True)
class Earlier:
    """What the record says about the attempts before this one."""

    state: RecordState
    attempts: int
    last_error: str | None
    stripe_ref: str | None

    @classmethod
    def of(cls, record: SyncRecord) -> Earlier:
        return cls(record.state, record.attempts, record.last_error, record.stripe_ref)

    def describe(self) -> str:
        if self.attempts:
            error = _short(self.last_error or "no error kept")
            return f"{self.attempts} earlier attempt(s) failed, the last with {error}"
        if self.last_error:
            return f"an earlier attempt left the error {_short(self.last_error)}"
        return "an earlier delivery did not finish"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class Recovery(enum.Enum):
    LINK = "link"
    DELETE_DRAFT = "delete_draft"


def may_have_pushed(earlier: Earlier | None) -> bool:
    """Whether an earlier attempt may have created the Stripe invoice without recording it.

    ``None`` is a record this message created. A skipped or succeeded record was settled by a
    run that made (or needed) no such check; a replay sets the record back to pending first.
    """
    if earlier is None or earlier.stripe_ref:
        return False
    if earlier.state in (RecordState.SUCCEEDED, RecordState.SKIPPED):
        return False
    return earlier.attempts > 0 or bool(earlier.last_error) or earlier.state is RecordState.PENDING


def recovery_for(stripe_status: str) -> Recovery:
    """A draft for a BC invoice that needs no push is deleted; anything finalized is linked."""
    return Recovery.DELETE_DRAFT if stripe_status == "draft" else Recovery.LINK


def recovered_story(invoice: dict[str, Any], bc_label: str, bc_state: str) -> str:
    """The audit summary of a recovered, finalized invoice."""
    status = str(invoice.get("status"))
    amount = format_amount(int(invoice.get("total") or 0), str(invoice.get("currency") or "usd"))
    number = invoice.get("number")
    text = (
        f"recovered Stripe invoice {invoice['id']} created by an earlier attempt whose answer "
        f"was lost; it is {status} ({f'Stripe number {number}, ' if number else ''}{amount})"
    )
    if status in PAYABLE:
        text += (
            f". BC invoice {bc_label} {bc_state}, yet the client can still pay the Stripe "
            "invoice: flagged for review"
        )
    return text


def recover_pushed(
    unit: Unit,
    record_id: int,
    earlier: Earlier,
    *,
    company_id: str,
    invoice_id: str,
    bc_number: str,
    bc_state: str,
    bc_customer_id: str | None,
) -> bool:
    """Look for the invoice an earlier push made; True when it was linked (record settled)."""
    deps: HandlerDeps = unit.deps
    label = bc_number or invoice_id
    customer = _stripe_customer(unit, company_id, bc_customer_id)
    unit.step(
        record_id,
        "decided",
        f"BC invoice {label} {bc_state}, but {earlier.describe()}; that attempt may have "
        "created the Stripe invoice, so it is looked for before anything is skipped",
    )
    found: dict[str, Any] = unit.call(
        record_id,
        f"looked for the Stripe invoice of BC invoice {label} by its metadata",
        deps.stripe.find_invoice_for_bc,
        company_id,
        invoice_id,
        customer,
        request={"stripe_customer_id": customer},
    )
    invoice = found.get("invoice")
    if not invoice:
        lag = " (search may not show one made within the last minute)" if not customer else ""
        unit.step(
            record_id,
            "decided",
            f"no Stripe invoice carries BC invoice {label}{lag}: the earlier attempt made none",
        )
        return False
    if recovery_for(str(invoice.get("status"))) is Recovery.DELETE_DRAFT:
        try:
            deleted: dict[str, Any] = unit.call(
                record_id,
                f"deleted draft Stripe invoice {invoice['id']}",
                deps.stripe.delete_draft_invoice,
                str(invoice["id"]),
            )
        except GatewayRejected as exc:
            if exc.code != "invalid_state":
                raise
            # Finalized meanwhile (a push that still saw the BC invoice open): link that one.
            invoice = unit.call(
                record_id,
                f"fetched Stripe invoice {invoice['id']}",
                deps.stripe.get_invoice,
                str(invoice["id"]),
            )
        else:
            done = "deleted it" if deleted.get("deleted_now") else "it is deleted already"
            unit.step(
                record_id,
                "recovered",
                f"an earlier attempt whose answer was lost left draft Stripe invoice "
                f"{invoice['id']}; {done}, never finalized, since BC invoice {label} {bc_state} "
                "and nothing may be left for the client to pay",
            )
            return False
    story = recovered_story(invoice, label, bc_state)
    _link(
        unit,
        record_id,
        invoice,
        company_id,
        invoice_id,
        bc_number or _metadata_number(invoice),
        story,
    )
    return True


def _stripe_customer(unit: Unit, company_id: str, bc_customer_id: str | None) -> str | None:
    if not bc_customer_id:
        return None
    return unit.read(
        lambda s: s.scalar(
            select(CustomerLink.stripe_customer_id).where(
                CustomerLink.bc_company_id == company_id,
                CustomerLink.bc_customer_id == bc_customer_id,
            )
        )
    )


def _metadata_number(invoice: dict[str, Any]) -> str:
    return str((invoice.get("metadata") or {}).get("bc_invoice_number") or "")


def insert_link(
    session: Session,
    *,
    company_id: str,
    invoice_id: str,
    bc_number: str,
    stripe_invoice_id: str,
    currency: str,
    total_minor: int,
    facts: dict[str, Any] | None = None,
) -> None:
    """The invoice link, unless the BC invoice has one already (a concurrent message's).

    ``facts``: what the push read from BC (``fast_path.link_facts``), when it read the invoice.
    """
    now = utcnow()
    session.execute(
        dialect_insert(session, InvoiceLink)
        .values(
            bc_company_id=company_id,
            bc_invoice_id=invoice_id,
            bc_invoice_number=bc_number or None,
            stripe_invoice_id=stripe_invoice_id,
            currency=normalise_currency(currency),
            total_minor=total_minor,
            created_at=now,
            updated_at=now,
            **(facts or {}),
        )
        .on_conflict_do_nothing(
            index_elements=[InvoiceLink.bc_company_id, InvoiceLink.bc_invoice_id]
        )
    )


def _link(
    unit: Unit,
    record_id: int,
    invoice: dict[str, Any],
    company_id: str,
    invoice_id: str,
    bc_number: str,
    story: str,
) -> None:
    """The link row, the settled record and the story, in one transaction.

    Two messages for the same record (the retry and a BC notification) may recover it at once:
    the link is inserted with ``ON CONFLICT DO NOTHING`` on the BC side's unique key, so the
    second one finds it there instead of failing (style.md §3.7).
    """
    stripe_id, total, currency = str(invoice["id"]), int(invoice["total"]), str(invoice["currency"])
    with unit.tx() as session:
        insert_link(
            session,
            company_id=company_id,
            invoice_id=invoice_id,
            bc_number=bc_number,
            stripe_invoice_id=stripe_id,
            currency=currency,
            total_minor=total,
        )
        unit.step(record_id, "recovered", story)
        record = session.get_one(SyncRecord, record_id)
        flags = dict(record.flags or {})
        if str(invoice.get("status")) in PAYABLE:
            flags[REVIEW_FLAG] = stripe_id
        record.state = RecordState.SUCCEEDED
        record.bc_number = bc_number or record.bc_number
        record.stripe_ref = stripe_id
        record.amount_minor = total
        record.currency = currency
        record.last_error = None
        record.flags = flags
