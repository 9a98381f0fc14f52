"""Payouts: match the payout's balance transactions to postings, then book fees and the transfer.

Every charge and refund settled by the payout should have a posting (its BC line). The fee total
goes to the fee G/L account and the payout's net amount to the bank account, both against the
Stripe clearing account, as general journal lines; with the payments credited to the clearing
account by the payment batch, the clearing account then nets to zero for the payout. Anything
that cannot be matched is listed on the payout record, never guessed.

The command carries a ``limit`` that bc-gateway holds every line to: what the payout settled,
its net amount plus its fees. Not the net alone: refunds in the same payout can leave a net
smaller than the fees, and the fee line must still go through.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlconnector.money import format_amount
from mlconnector.money import from_minor
from reconciler.handlers.leases import give_back
from reconciler.models import AuditOutcome
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import Posting
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.rules import HandlerDeps
from reconciler.store import claim_payout
from reconciler.unit import Unit

MATCHABLE_TYPES = {"charge": "payment", "payment": "payment", "refund": "refund"}
IGNORED_TYPES = {"payout"}


def on_payout(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    payout_id = str(unit.envelope.data["object_id"])
    record_id = unit.record(RecordKind.PAYOUT, f"stripe:payout:{payout_id}", stripe_ref=payout_id)
    payout = unit.call(
        record_id, f"fetched Stripe payout {payout_id}", deps.stripe.get_payout, payout_id
    )
    if payout.get("status") != "paid":
        unit.step(
            record_id,
            "decided",
            f"payout is {payout.get('status')}; waiting for paid",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    existing = unit.read(
        lambda s: s.scalar(select(Payout).where(Payout.stripe_payout_id == payout_id))
    )
    if existing is not None and existing.state is PayoutState.POSTED:
        unit.step(
            record_id,
            "decided",
            "payout already reconciled; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
        unit.update(record_id, state=RecordState.SUCCEEDED)
        return
    transactions = unit.call(
        record_id,
        f"listed the balance transactions of payout {payout_id}",
        deps.stripe.payout_balance_transactions,
        payout_id,
    )
    currency = str(payout["currency"]).lower()
    sources = [str(t.get("source")) for t in transactions if t.get("type") in MATCHABLE_TYPES]
    posted = unit.read(
        lambda s: {
            p.stripe_id: p for p in s.scalars(select(Posting).where(Posting.stripe_id.in_(sources)))
        }
    )
    unmatched: list[dict[str, Any]] = []
    company_id = next((p.bc_company_id for p in posted.values()), None)
    fee_minor = 0
    for txn in transactions:
        kind = str(txn.get("type"))
        if kind in IGNORED_TYPES:
            continue
        fee_minor += int(txn.get("fee", 0))
        source = str(txn.get("source"))
        if kind not in MATCHABLE_TYPES:
            unmatched.append(
                {
                    "balance_transaction": txn.get("id"),
                    "reason": f"type {kind} is not booked automatically",
                }
            )
        elif source not in posted:
            unmatched.append(
                {
                    "balance_transaction": txn.get("id"),
                    "reason": f"{kind} {source} has no BC posting",
                }
            )
    net_minor = int(payout["amount"])
    unit.step(
        record_id,
        "decided",
        f"payout {payout_id}: {len(transactions)} transaction(s), "
        f"fees {format_amount(fee_minor, currency)}, net {format_amount(net_minor, currency)}, "
        f"{len(unmatched)} unmatched",
        request={"unmatched": unmatched},
    )
    rules = deps.rules
    if currency != rules.lcy_currency:
        reason = (
            f"payout is in {currency.upper()}; BC's standard journal lines post in "
            f"{rules.lcy_currency.upper()} only, so it must be booked by hand"
        )
        unit.step(record_id, "decided", f"unmatched: {reason}", outcome=AuditOutcome.SKIPPED)
        unit.update(
            record_id,
            state=RecordState.UNMATCHED,
            amount_minor=net_minor,
            currency=currency,
            last_error=reason,
        )
        return
    day = deps.today().isoformat()
    # Document No. is Code[20]: a payout id (27 characters) does not fit, its tail does.
    document = ("PO" + payout_id.removeprefix("po_")[-18:]).upper()
    lines: list[dict[str, Any]] = []

    def pair(account_type: str, account: str, amount_minor: int, suffix: str, text: str) -> None:
        amount = from_minor(amount_minor, currency)
        lines.append(
            {
                "account_type": account_type,
                "account_number": account,
                "amount": str(amount),
                "posting_date": day,
                "document_number": document,
                "external_document_number": f"{payout_id}-{suffix}",
                "description": f"Stripe {text} {payout_id}"[:100],
            }
        )
        lines.append(
            {
                "account_type": "G/L Account",
                "account_number": rules.clearing_account,
                "amount": str(-amount),
                "posting_date": day,
                "document_number": document,
                "external_document_number": f"{payout_id}-{suffix}C",
                "description": f"Stripe {text} {payout_id}"[:100],
            }
        )

    if fee_minor:
        pair("G/L Account", rules.fee_account, fee_minor, "F", "fees")
    pair("Bank Account", rules.bank_account, net_minor, "N", "payout")
    limit = str(from_minor(abs(net_minor) + abs(fee_minor), currency))
    with unit.tx() as session:
        row = claim_payout(
            session,
            payout_id,
            holder=unit.holder,
            lease_s=deps.claim_lease_s,
            record_id=record_id,
            amount_minor=net_minor,
            currency=currency,
        )
        payout_row_id, already_posted = row.id, row.state is PayoutState.POSTED
    if already_posted:
        unit.step(
            record_id,
            "decided",
            "payout already reconciled by a concurrent message; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
    else:
        try:
            result = unit.call(
                record_id,
                f"booked fees and transfer of payout {payout_id} in batch {rules.payout_journal}",
                deps.bc.create_general_journal_lines,
                {"journal": rules.payout_journal, "limit": limit, "lines": lines, "post": True},
                request={"journal": rules.payout_journal, "limit": limit, "lines": len(lines)},
            )
        except Exception as exc:
            give_back(unit, Payout, payout_row_id, exc)
            raise
        line_ids = [str(line.get("line_id") or "") for line in result.get("lines", [])]
        with unit.tx() as session:
            row = session.get_one(Payout, payout_row_id, populate_existing=True)
            row.bc_company_id = company_id
            row.fee_minor = fee_minor
            row.net_minor = net_minor
            row.state = PayoutState.POSTED
            row.fee_line_id = line_ids[0] if fee_minor and line_ids else None
            row.bank_line_id = line_ids[-2] if len(line_ids) >= 2 else None
            row.unmatched = unmatched
            row.lease_expires_at = None
            unit.step(
                record_id,
                "result",
                f"payout {payout_id} reconciled: fees {format_amount(fee_minor, currency)} and "
                f"{format_amount(net_minor, currency)} to the bank, against the clearing account",
            )
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        amount_minor=net_minor,
        currency=currency,
        bc_company_id=company_id,
        flags={"unmatched_transactions": len(unmatched)} if unmatched else {},
        last_error=None,
    )
