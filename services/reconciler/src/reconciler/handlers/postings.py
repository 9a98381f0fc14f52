"""Writing one Stripe payment or refund to BC, exactly once (claim, act, confirm).

1. **Settled already?** A payment is announced by two events (and each may come again): when
   the posting is written and its record succeeded, the later ones stop here, without a call.
2. **Claim**: a lease on the posting row, committed on its own (``store.claim_posting``), so
   one handling attempt at a time may write the line and no transaction stays open across the
   call. A rival attempt meets the lease and retries later through the bus.
3. **Act**: bc-gateway creates the line unless BC already has it (it looks the external
   document number up first, so a crash after BC wrote the line but before step 4 is safe), and
   answers with the invoice as it read it: number, currency, remaining amount. On the first
   write for an invoice the connector pushed, the reconciler sends what it knows instead
   (``fast_path``) and the write is the only BC call.
4. **Confirm** the line on the posting and, if the rules post the batch automatically, note in
   the same transaction that the batch waits: the batch poster (``batch_poster``) posts it
   within its interval, one poster at a time across all consumers, one post for many lines.

A payment larger than what BC says remains open on the invoice is refused by bc-gateway
(``amount_exceeds_remaining``, with the remaining amount) unless the command says it is an
overpayment. The handler then flags the record for review, notes why, and sends the same
command again with ``overpayment: true``: the flag is sent exactly when the reconciler has
flagged the payment, and the common case costs no extra read of the invoice.

Missing or unknown metadata never leads to a guess: the record is marked ``unmatched`` with the
reason, for a person to resolve; so is a BC invoice that does not exist or is in another
currency. A failed attempt gives its lease back unless the gateway may still be writing
(``GatewayUnavailable.in_doubt``); then the lease has to run out first.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from mlconnector.money import from_minor
from mlconnector.money import normalize_currency
from reconciler import payers
from reconciler.adapters.http import GatewayNotFound
from reconciler.adapters.http import GatewayRejected
from reconciler.handlers.fast_path import known_invoice
from reconciler.handlers.leases import give_back
from reconciler.kill_points import AFTER_BC_WRITE
from reconciler.kill_points import AFTER_CLAIM
from reconciler.models import AuditOutcome
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.store import claim_posting
from reconciler.store import mark_posting_posted
from reconciler.store import note_batch_line
from reconciler.unit import Unit

# bc-gateway's refusal of a payment above the invoice's remaining amount (without the flag).
EXCEEDS_REMAINING = "amount_exceeds_remaining"


def unmatched(
    unit: Unit, record_id: int, reason: str, payer: Mapping[str, str] | None = None
) -> None:
    """Mark the record for a person; ``payer`` (``payers.payer_of``) joins its flags.

    The payer is what the clerk will search the queue by (``reconciler.payers``).
    """
    unit.step(record_id, "decided", f"unmatched: {reason}", outcome=AuditOutcome.SKIPPED)
    with unit.tx() as session:
        record = session.get_one(SyncRecord, record_id)
        record.state = RecordState.UNMATCHED
        record.last_error = reason
        if payer:
            record.flags = {**(record.flags or {}), payers.FLAG: dict(payer)}


def post_to_bc(
    unit: Unit,
    *,
    kind: PostingKind,
    stripe_id: str,
    amount_minor: int,
    currency: str,
    metadata: Mapping[str, Any],
    source: str,
    payer: Mapping[str, str] | None = None,
) -> None:
    """Post one Stripe payment (negative line) or refund (positive line) against its BC invoice.

    ``payer``: who paid (``payers.payer_of``), kept on the record if it ends up unmatched.
    """
    deps: HandlerDeps = unit.deps
    is_payment = kind is PostingKind.PAYMENT
    if already_settled(unit, kind, stripe_id):
        return
    record_id = unit.record(
        _record_kind(kind),
        _business_key(kind, stripe_id),
        stripe_ref=stripe_id,
        amount_minor=amount_minor,
        currency=currency.lower(),
    )
    company_id = str(metadata.get("bc_company_id") or "")
    bc_invoice_id = str(metadata.get("bc_invoice_id") or "")
    if not company_id or not bc_invoice_id:
        unmatched(unit, record_id, f"{source} carries no BC invoice in its metadata", payer)
        return
    try:
        currency = normalize_currency(currency)
        amount = from_minor(amount_minor, currency)
    except MoneyError as exc:
        unmatched(unit, record_id, str(exc), payer)
        return

    bc_amount = -amount if is_payment else amount
    # A currency Stripe settles as charged has its own batch, balanced by its bank account.
    journal = deps.rules.payment_journal_for(currency) if is_payment else deps.rules.refund_journal
    number = str(metadata.get("bc_invoice_number") or bc_invoice_id)
    with unit.tx() as session:
        posting = claim_posting(
            session,
            stripe_id,
            holder=unit.holder,
            lease_s=deps.claim_lease_s,
            kind=kind,
            record_id=record_id,
            bc_company_id=company_id,
            bc_invoice_id=bc_invoice_id,
            amount=bc_amount,
            amount_minor=amount_minor,
            currency=currency,
        )
        posting_id, written_line = posting.id, posting.bc_line_id
        already_written = posting.state is PostingState.POSTED
        known = None
        if not already_written:
            known = known_invoice(
                session,
                posting=posting,
                kind=kind,
                company_id=company_id,
                bc_invoice_id=bc_invoice_id,
                currency=currency,
                amount_minor=amount_minor,
            )
        unit.set_fields(session, record_id, bc_company_id=company_id, bc_ref=bc_invoice_id)
    deps.kill(AFTER_CLAIM)
    flags: dict[str, Any] = {}
    auto_post = deps.rules.auto_post_payments if is_payment else deps.rules.auto_post_refunds
    if already_written:
        unit.step(
            record_id,
            "decided",
            f"already written to BC as line {written_line}; not writing it again",
            outcome=AuditOutcome.SKIPPED,
        )
    else:
        what = "payment" if is_payment else "refund"
        unit.step(
            record_id,
            "decided",
            f"{what} of {format_amount(amount_minor, currency)} goes to BC invoice {number} "
            f"in batch {journal}"
            + (
                "; first write for an invoice the connector pushed and BC has not changed "
                "since, so no BC look-up is needed"
                if known is not None
                else ""
            ),
        )
        command: dict[str, Any] = {
            "kind": kind.value,
            "journal": journal,
            "bc_invoice_id": bc_invoice_id,
            "amount": str(bc_amount),
            "currency": currency,
            "external_document_number": stripe_id,
            "posting_date": deps.today().isoformat(),
            "description": f"Stripe {stripe_id}"[:100],
        }
        if known is not None:
            # The first write, for an invoice the connector pushed and BC has not changed
            # since: bc-gateway skips its reads and look-ups (``fast_path``).
            command["known"] = known
        overpaid = _Overpaid(unit, record_id, amount, amount_minor, currency)
        try:
            line = _write_line(
                unit,
                record_id,
                f"created the BC {what} line for {stripe_id}",
                command,
                overpaid,
                number,
            )
        except Exception as exc:
            give_back(unit, Posting, posting_id, exc)
            reason = _unmatched_reason(exc, bc_invoice_id, source)
            if reason is None:
                raise
            unmatched(unit, record_id, reason, payer)
            return
        deps.kill(AFTER_BC_WRITE)
        number = str(line.get("invoice_number") or number)
        # A line BC posted already has reduced the remaining amount: no overpayment test then.
        # One written by an earlier attempt as a flagged overpayment comes back as it is. A
        # line written with ``known`` facts was proved no overpayment here; BC was not read.
        read_remaining = line.get("invoice_remaining_amount")
        if is_payment and read_remaining is not None and not line.get("already_posted"):
            remaining = Decimal(str(read_remaining))
            if amount > remaining:
                overpaid.flag(remaining, number)
        flags = overpaid.flags
    unit.step(
        record_id,
        "result",
        f"{format_amount(amount_minor, currency)} from {stripe_id} is in BC "
        f"against invoice {number}"
        + (
            f"; the batch poster posts batch {journal}"
            if auto_post
            else ", waiting in the batch for review"
        ),
    )
    fields: dict[str, Any] = {"state": RecordState.SUCCEEDED, "last_error": None}
    if flags:
        fields["flags"] = flags
    with unit.tx() as session:
        if not already_written:
            # A line BC already posted (found by its external document number in the G/L)
            # has no journal line id any more: the Stripe id stands for it. The posting and
            # its record are confirmed together: one transaction, one turn at SQLite's lock.
            mark_posting_posted(
                session,
                session.get_one(Posting, posting_id, populate_existing=True),
                bc_journal_id=str(line.get("journal_id") or journal),
                bc_line_id=str(line.get("line_id") or f"posted:{stripe_id}"),
            )
            fields["bc_number"] = number
            if auto_post and not line.get("already_posted"):
                note_batch_line(session, journal)
        unit.set_fields(session, record_id, **fields)


class _Overpaid:
    """The overpayment flag of one payment: set once, with the audit step that says why."""

    def __init__(
        self, unit: Unit, record_id: int, amount: Decimal, amount_minor: int, currency: str
    ) -> None:
        self._unit = unit
        self._record_id = record_id
        self._amount = amount
        self._shown = format_amount(amount_minor, currency)
        self.flags: dict[str, Any] = {}

    def flag(self, remaining: Decimal, number: str, then: str = "") -> None:
        if self.flags:
            return
        self.flags = {"overpaid": True, "overpaid_by": str(self._amount - remaining)}
        self._unit.step(
            self._record_id,
            "decided",
            overpaid_summary(self._shown, number, remaining, self.flags["overpaid_by"]) + then,
            outcome=AuditOutcome.SKIPPED,
        )


def overpaid_summary(shown: str, number: str, remaining: object, by: object) -> str:
    """The story's words for a payment that pays more than its invoice has open."""
    return f"{shown} overpays BC invoice {number} (open: {remaining}) by {by}: flagged for review"


def _write_line(
    unit: Unit,
    record_id: int,
    summary: str,
    command: dict[str, Any],
    overpaid: _Overpaid,
    number: str,
) -> dict[str, Any]:
    """Ask bc-gateway for the line; if it refuses an overpayment, flag it and ask again."""
    deps: HandlerDeps = unit.deps
    try:
        line: dict[str, Any] = unit.call(
            record_id, summary, deps.bc.create_payment, command, request=command
        )
        return line
    except GatewayRejected as exc:
        if exc.code != EXCEEDS_REMAINING:
            raise
        details = exc.details
    remaining = Decimal(str(details.get("invoice_remaining_amount", "0")))
    number = str(details.get("invoice_number") or number)
    overpaid.flag(remaining, number, then="; writing it as a flagged overpayment")
    flagged = {**command, "overpayment": True}
    again: dict[str, Any] = unit.call(
        record_id,
        f"{summary} (a flagged overpayment)",
        deps.bc.create_payment,
        flagged,
        request=flagged,
    )
    return again


def already_settled(unit: Unit, kind: PostingKind, stripe_id: str) -> bool:
    """Whether the Stripe payment or refund is written to BC and its record succeeded.

    Then a later event for it has nothing to do: the step joins the record's story and the
    handler stops before any call.
    """
    found = unit.read(lambda session: _settled_line(session, kind, stripe_id))
    if found is None:
        return False
    record_id, line_id = found
    unit.touch(record_id)
    unit.step(
        record_id,
        "decided",
        f"already in BC as line {line_id}; nothing more to do",
        outcome=AuditOutcome.SKIPPED,
    )
    return True


def _record_kind(kind: PostingKind) -> RecordKind:
    return RecordKind.PAYMENT if kind is PostingKind.PAYMENT else RecordKind.REFUND


def _business_key(kind: PostingKind, stripe_id: str) -> str:
    return f"stripe:{kind.value}:{stripe_id}"


def _settled_line(session: Session, kind: PostingKind, stripe_id: str) -> tuple[int, str] | None:
    row = session.execute(
        select(SyncRecord.id, Posting.bc_line_id)
        .join(Posting, Posting.record_id == SyncRecord.id)
        .where(
            SyncRecord.kind == _record_kind(kind),
            SyncRecord.business_key == _business_key(kind, stripe_id),
            SyncRecord.state == RecordState.SUCCEEDED,
            Posting.stripe_id == stripe_id,
            Posting.state == PostingState.POSTED,
        )
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _unmatched_reason(exc: Exception, bc_invoice_id: str, source: str) -> str | None:
    """What bc-gateway's refusal means for the record, if it is a matching problem."""
    if isinstance(exc, GatewayNotFound):
        return f"BC invoice {bc_invoice_id} named in {source} does not exist"
    if isinstance(exc, GatewayRejected) and exc.code == "currency_mismatch":
        return f"{source} does not match its BC invoice: {exc.message.split(': ', 1)[-1]}"
    return None
