"""Disputes: the money Stripe withdraws and reinstates, booked as it moves (docs/accounting.md).

Every ``charge.dispute.*`` event re-reads the dispute and books each of its balance transactions
not booked yet, so the events may come in any order, twice, or not at all but the last:

- funds withdrawn (``reporting_category`` ``dispute``, a negative amount): "Disputed payments"
  (``MLC_DISPUTE_ACCOUNT``) against the clearing account of the currency Stripe took it from;
- funds reinstated on a won dispute (``dispute_reversal``, positive): the reverse.

The dispute fee and any fee Stripe returns ride on those same balance transactions (their
``fee``); like every fee they are booked with the payout that settles them (``payouts``), to
``MLC_DISPUTE_FEE_ACCOUNT``. An inquiry moves no money and books nothing.

The record keeps the dispute's reason, status and evidence deadline. Two states need a person:
a dispute waiting for evidence (answer it in Stripe before the deadline) and a lost one (write
it off or re-open the receivable in BC: the firm's decision).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from reconciler.handlers import cash_moves
from reconciler.handlers.postings import unmatched
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit

WAITING_FOR_EVIDENCE = ("needs_response", "warning_needs_response")
# Flags a person's "handled" leaves on a record; kept while the item they handled stays.
HANDLED_KEYS = ("handled_by", "handled_reason", "handled_at")


def on_dispute(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    dispute_id = str(unit.envelope.data["object_id"])
    record_id = unit.record(
        RecordKind.DISPUTE, f"stripe:dispute:{dispute_id}", stripe_ref=dispute_id
    )
    dispute = unit.call(
        record_id, f"fetched Stripe dispute {dispute_id}", deps.stripe.get_dispute, dispute_id
    )
    charge_id = str(dispute.get("charge") or "")
    paid = unit.read(
        lambda s: s.execute(
            select(Posting.bc_company_id, Posting.bc_invoice_id).where(
                Posting.stripe_id == charge_id
            )
        ).first()
    )
    company = str(paid[0]) if paid else ""
    for txn in dispute.get("balance_transactions") or []:
        if not int(txn.get("amount") or 0):
            continue
        amount = int(txn["amount"])
        move = cash_moves.CashMove(
            kind=PostingKind.DISPUTE,
            stripe_id=str(txn["id"]),
            amount_minor=amount,
            currency=str(txn["currency"]).lower(),
            account=deps.rules.dispute_account,
            prefix="DP",
            text=f"dispute {dispute_id} of charge {charge_id}: funds "
            + ("withdrawn" if amount < 0 else "reinstated"),
            bc_company_id=company,
        )
        try:
            cash_moves.book(unit, record_id, move)
        except MoneyError as exc:
            unmatched(unit, record_id, str(exc))
            return
    _settle(unit, record_id, dispute, charge_id, paid)


def _settle(unit: Unit, record_id: int, dispute: dict[str, Any], charge_id: str, paid: Any) -> None:
    deps: HandlerDeps = unit.deps
    status = str(dispute.get("status") or "")
    currency = str(dispute.get("currency") or "").lower()
    amount_minor = int(dispute.get("amount") or 0)
    shown = format_amount(amount_minor, currency) if currency else str(amount_minor)
    due = dispute.get("evidence_due_by")
    due_text = (
        dt.datetime.fromtimestamp(int(due), dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if due else None
    )
    flags: dict[str, Any] = {
        "dispute_status": status,
        "reason": dispute.get("reason"),
        "evidence_due_by": due_text,
        "charge": charge_id,
    }
    todo = None
    if status in WAITING_FOR_EVIDENCE:
        todo = (
            f"The client's bank disputes {shown} ({dispute.get('reason')}). Answer it with "
            f"evidence in Stripe's Dashboard by {due_text}, or accept it."
        )
        flags["needs_person"] = "dispute_evidence"
    elif status == "lost":
        todo = (
            f"Dispute lost: {shown} stays on G/L {deps.rules.dispute_account}. In BC, write it "
            f"off (a general journal line: bad debts against {deps.rules.dispute_account}), or "
            "re-open the receivable to chase the client; then mark this item handled."
        )
        flags["needs_person"] = "dispute_lost"
    if todo is not None:
        flags["todo"] = todo
    previous = unit.read(lambda s: dict(s.get_one(SyncRecord, record_id).flags or {}))
    if previous.get("needs_person") == flags.get("needs_person"):
        flags.update({k: previous[k] for k in HANDLED_KEYS if k in previous})
    unit.step(
        record_id,
        "result",
        f"dispute of {shown} on charge {charge_id} is {status}"
        + (f"; evidence due {due_text}" if due_text and status in WAITING_FOR_EVIDENCE else "")
        + (f". {todo}" if todo else ""),
    )
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        amount_minor=amount_minor,
        currency=currency or None,
        bc_company_id=(str(paid[0]) if paid else None) or None,
        bc_ref=(str(paid[1]) if paid and paid[1] else None),
        flags=flags,
        last_error=None,
    )
