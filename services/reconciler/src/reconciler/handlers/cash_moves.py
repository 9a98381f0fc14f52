"""Money that leaves or returns to the Stripe balance outside a payment: one general line each.

A refund, a dispute's withdrawal and its reinstatement move money in Stripe's balance at once,
so the clearing account must move with them (docs/accounting.md, "Entries"): one general
journal line, the G/L account of the movement against the clearing account of its currency,
booked in that currency and posted at once. Each is written exactly once, like a payment
(``postings``): the posting row keyed by the Stripe id is claimed under a lease before the
call, bc-gateway finds a line it wrote before by its document number, and the row is confirmed
after. The document number is derived from the Stripe id, so a retry or a replay can only meet
what it wrote.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from sqlalchemy import select

from mlconnector.money import format_amount
from mlconnector.money import from_minor
from reconciler.handlers.leases import give_back
from reconciler.models import AuditOutcome
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.rules import GL
from reconciler.rules import HandlerDeps
from reconciler.store import claim_posting
from reconciler.store import mark_posting_posted
from reconciler.unit import Unit


@dataclasses.dataclass(frozen=True)
class CashMove:
    """One movement of the Stripe balance, in the currency Stripe settled it in.

    ``amount_minor`` is signed as Stripe's balance transaction: negative when money left the
    balance (a refund, a withdrawal), positive when it came back (a reinstatement).
    """

    kind: PostingKind
    stripe_id: str
    amount_minor: int
    currency: str
    account: str
    prefix: str
    text: str
    bc_company_id: str = ""
    account_type: str = GL


def document_number(prefix: str, stripe_id: str) -> str:
    """A Code[20] document number that only this Stripe id yields."""
    return (prefix + hashlib.sha256(stripe_id.encode()).hexdigest().upper())[:20]


def book(unit: Unit, record_id: int, move: CashMove) -> bool:
    """Write and post the movement's line unless it is written already; True if it is in BC."""
    deps: HandlerDeps = unit.deps
    posted = unit.read(
        lambda s: s.scalar(
            select(Posting.bc_line_id).where(
                Posting.stripe_id == move.stripe_id, Posting.state == PostingState.POSTED
            )
        )
    )
    shown = format_amount(abs(move.amount_minor), move.currency)
    if posted is not None:
        unit.step(
            record_id,
            "decided",
            f"{move.text} ({shown}) is already in BC as line {posted}",
            outcome=AuditOutcome.SKIPPED,
        )
        return True
    amount = from_minor(move.amount_minor, move.currency)
    clearing_type, clearing = deps.rules.clearing_for(move.currency)
    with unit.tx() as session:
        row = claim_posting(
            session,
            move.stripe_id,
            holder=unit.holder,
            lease_s=deps.claim_lease_s,
            kind=move.kind,
            record_id=record_id,
            bc_company_id=move.bc_company_id,
            bc_invoice_id=None,
            amount=-amount,
            amount_minor=move.amount_minor,
            currency=move.currency,
        )
        row_id, done = row.id, row.state is PostingState.POSTED
    if done:
        return True
    # Money out of the balance (a negative amount) debits the movement's account and credits
    # the clearing account; money back does the opposite.
    line: dict[str, Any] = {
        "account_type": move.account_type,
        "account_number": move.account,
        "amount": str(-amount),
        "posting_date": deps.today().isoformat(),
        "document_number": document_number(move.prefix, move.stripe_id),
        "external_document_number": move.stripe_id,
        "description": f"Stripe {move.text}"[:100],
        "balancing_account_type": clearing_type,
        "balancing_account_number": clearing,
    }
    command = {
        "journal": deps.rules.payout_journal,
        "currency": move.currency,
        "limit": str(abs(amount)),
        "lines": [line],
        "post": True,
    }
    try:
        result = unit.call(
            record_id,
            f"booked {move.text}: {shown} "
            + ("out of" if move.amount_minor < 0 else "back into")
            + f" the clearing account {clearing}, against {move.account}",
            deps.bc.create_general_journal_lines,
            command,
            request=command,
        )
    except Exception as exc:
        give_back(unit, Posting, row_id, exc)
        raise
    lines = result.get("lines") or [{}]
    line_id = str(lines[0].get("line_id") or f"posted:{move.stripe_id}")
    with unit.tx() as session:
        row = session.get_one(Posting, row_id, populate_existing=True)
        mark_posting_posted(
            session,
            row,
            bc_journal_id=str(result.get("journal_id") or deps.rules.payout_journal),
            bc_line_id=line_id,
        )
        # Posted with its own command (``post``): no batch poster waits for it.
        row.batch_posted_at = row.posted_at
    return True


def settled_amount(
    txn: dict[str, Any] | None, fallback_minor: int, currency: str
) -> tuple[int, str]:
    """The amount and currency Stripe's balance moved by: its balance transaction's if known."""
    if txn and txn.get("amount") is not None and txn.get("currency"):
        return int(txn["amount"]), str(txn["currency"]).lower()
    return fallback_minor, currency.lower()
