"""Payouts: match the payout's balance transactions to postings, then book fees, FX and the net.

Every movement a payout settles was booked at its own event (a payment, a refund's cash leg, a
dispute's withdrawal or reinstatement: docs/accounting.md); the payout books what only it
itemizes (``payout_plan``): fees by account, the FX difference of payments Stripe converted,
and its net to the firm's bank account in the payout's currency, each line against the clearing
account of that currency. The clearing account is then back to the amounts of what is not paid
out yet. Anything that cannot be matched is listed on the payout record, never guessed.

The command carries a ``limit`` that bc-gateway holds every line to: what the payout's balance
transactions moved, their amounts plus their fees.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from mlconnector.money import format_amount
from mlconnector.money import from_minor
from reconciler.handlers import cash_moves
from reconciler.handlers.leases import give_back
from reconciler.models import AuditOutcome
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import PayoutTransaction
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.payout_plan import OWN_TYPES
from reconciler.payout_plan import Booked
from reconciler.payout_plan import FeeAccounts
from reconciler.payout_plan import PayoutPlan
from reconciler.payout_plan import booking_key
from reconciler.payout_plan import fx_difference
from reconciler.payout_plan import plan_payout
from reconciler.rules import BANK
from reconciler.rules import GL
from reconciler.rules import HandlerDeps
from reconciler.store import claim_payout
from reconciler.unit import Unit


def _unmatched_payout(unit: Unit, record_id: int, payout: dict[str, Any], reason: str) -> None:
    unit.step(record_id, "decided", f"unmatched: {reason}", outcome=AuditOutcome.SKIPPED)
    unit.update(
        record_id,
        state=RecordState.UNMATCHED,
        amount_minor=int(payout["amount"]),
        currency=str(payout["currency"]).lower(),
        last_error=reason,
    )


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
        lambda s: s.scalar(select(Payout.state).where(Payout.stripe_payout_id == payout_id))
    )
    if existing is PayoutState.POSTED:
        unit.step(
            record_id,
            "decided",
            "payout already reconciled; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
        unit.update(record_id, state=RecordState.SUCCEEDED)
        return
    rules = deps.rules
    currency = str(payout["currency"]).lower()
    bank = rules.payout_bank(currency)
    if not rules.settles_as_charged(currency):
        _unmatched_payout(
            unit,
            record_id,
            payout,
            f"payout is in {currency.upper()}, and no clearing account is set for it: add "
            f"{currency}=<batch>/<bank account in {currency.upper()}> to MLC_CURRENCY_CLEARING "
            "(docs/accounting.md), then replay",
        )
        return
    if bank is None:
        _unmatched_payout(
            unit,
            record_id,
            payout,
            f"no bank account receives payouts in {currency.upper()}: add "
            f"{currency}=<bank account> to MLC_PAYOUT_BANKS, then replay",
        )
        return
    transactions = unit.call(
        record_id,
        f"listed the balance transactions of payout {payout_id}",
        deps.stripe.payout_balance_transactions,
        payout_id,
    )
    keys = [booking_key(t) for t in transactions]
    booked, company_id = unit.read(lambda s: _booked(s, keys))
    plan = plan_payout(
        transactions,
        booked,
        currency=currency,
        accounts=FeeAccounts(
            rules.fee_account, rules.tax_on_fee_account, rules.dispute_fee_account
        ),
    )
    net_minor = int(payout["amount"])
    unit.step(
        record_id,
        "decided",
        f"payout {payout_id}: {len(transactions)} transaction(s), "
        f"fees {format_amount(plan.fee_total, currency)}, "
        f"net {format_amount(net_minor, currency)}, "
        f"{len(plan.converted)} converted payment(s), {len(plan.unmatched)} unmatched",
        request={"unmatched": plan.unmatched},
    )
    fx_minor = _fx_difference(unit, record_id, plan, currency)
    chunks = _lines(deps, payout_id, currency, bank, plan, fx_minor, net_minor, transactions)
    moved = sum(abs(int(t.get("amount") or 0)) + abs(int(t.get("fee") or 0)) for t in transactions)
    limit = str(from_minor(max(moved, abs(net_minor), abs(fx_minor), 1), currency))
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
        line_ids: list[str] = []
        for part, lines in enumerate(chunks, start=1):
            command = {
                "journal": rules.payout_journal,
                "currency": currency,
                "limit": limit,
                "lines": lines,
                "post": True,
            }
            try:
                result = unit.call(
                    record_id,
                    f"booked fees and transfer of payout {payout_id} in batch "
                    f"{rules.payout_journal}"
                    + (f" (part {part} of {len(chunks)})" if len(chunks) > 1 else ""),
                    deps.bc.create_general_journal_lines,
                    command,
                    request={**command, "lines": len(lines)},
                )
            except Exception as exc:
                give_back(unit, Payout, payout_row_id, exc)
                raise
            line_ids += [str(line.get("line_id") or "") for line in result.get("lines", [])]
        with unit.tx() as session:
            row = session.get_one(Payout, payout_row_id, populate_existing=True)
            row.bc_company_id = company_id
            row.fee_minor = plan.fee_total
            row.net_minor = net_minor
            row.state = PayoutState.POSTED
            row.fee_line_id = line_ids[0] if plan.fee_total and line_ids else None
            row.bank_line_id = line_ids[-1] if line_ids else None
            row.unmatched = plan.unmatched
            row.transactions = [str(t.get("id")) for t in transactions]
            session.add_all(_kept(payout_row_id, transactions))
            row.fx_minor = fx_minor
            row.arrival_date = _arrival(payout.get("arrival_date"))
            row.lease_expires_at = None
            unit.step(
                record_id,
                "result",
                f"payout {payout_id} reconciled: fees {format_amount(plan.fee_total, currency)}"
                + (f", FX difference {format_amount(fx_minor, currency)}" if fx_minor else "")
                + f" and {format_amount(net_minor, currency)} to bank account {bank}, against "
                f"the clearing account {rules.clearing_for(currency)[1]}",
            )
    flags: dict[str, Any] = {}
    if plan.unmatched:
        flags = {
            "unmatched_transactions": len(plan.unmatched),
            "needs_person": "payout_unmatched",
            "todo": "Book the unmatched balance transactions of this payout by hand against "
            "the clearing account (the payout page lists them).",
        }
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        amount_minor=net_minor,
        currency=currency,
        bc_company_id=company_id,
        flags=flags,
        last_error=None,
    )


def _booked(session: Any, keys: list[str]) -> tuple[dict[str, Booked], str | None]:
    rows = session.scalars(
        select(Posting).where(Posting.stripe_id.in_(keys), Posting.state == PostingState.POSTED)
    ).all()
    booked = {
        p.stripe_id: Booked(
            kind=p.kind.value,
            amount_minor=p.amount_minor,
            currency=p.currency,
            posted_on=p.posted_at.date() if p.posted_at else None,
        )
        for p in rows
    }
    company = next((p.bc_company_id for p in rows if p.bc_company_id), None)
    return booked, company


def _fx_difference(unit: Unit, record_id: int, plan: PayoutPlan, currency: str) -> int:
    """The payout's FX difference (``payout_plan.fx_difference``), each BC read audited."""
    deps: HandlerDeps = unit.deps

    def lcy_values(paid_in: str, day: str, amounts: list[str]) -> list[object]:
        answer = unit.call(
            record_id,
            f"read BC's {currency.upper()} value of {len(amounts)} {paid_in.upper()} "
            f"payment(s) posted on {day}",
            deps.bc.lcy_amounts,
            paid_in,
            day,
            amounts,
        )
        return list(answer.get("amounts_lcy", []))

    return fx_difference(plan.converted, currency, deps.today(), lcy_values)


# A general-lines command takes at most 100 lines (bc-gateway); each chunk is its own document.
CHUNK = 90


def _lines(
    deps: HandlerDeps,
    payout_id: str,
    currency: str,
    bank: str,
    plan: PayoutPlan,
    fx_minor: int,
    net_minor: int,
    transactions: list[dict[str, Any]],
) -> list[list[dict[str, Any]]]:
    """The payout's lines, in chunks of at most ``CHUNK``, each chunk one document.

    On the LCY clearing G/L account: the fees and the FX difference against it, and the net
    from it to the bank. On a foreign currency's clearing bank account, BC rounds each line's
    LCY value on its own, so fee and net lines would leave the clearing account a cent or so
    off in LCY though at zero in its currency. There each balance transaction is moved from the
    clearing bank account to the firm's bank account in its own line, with the very amount it
    was booked with (so the same LCY value, line for line), and the fees are taken from the
    firm's bank account: the clearing account returns to zero in both currencies, and the
    firm's bank account still receives exactly the payout's net.
    """
    rules = deps.rules
    clearing_type, clearing = rules.clearing_for(currency)
    itemized = clearing_type == BANK
    fees_against = (BANK, bank) if itemized else (clearing_type, clearing)
    day = deps.today().isoformat()
    # Document No. is Code[20]: a payout id (27 characters) does not fit, its tail does.
    tail = payout_id.removeprefix("po_").upper()
    lines: list[dict[str, Any]] = []

    def line(
        kind: str, account: str, minor: int, suffix: str, text: str, against: tuple[str, str]
    ) -> None:
        lines.append(
            {
                "account_type": kind,
                "account_number": account,
                "amount": str(from_minor(minor, currency)),
                "posting_date": day,
                "external_document_number": f"{payout_id}-{suffix}",
                "description": f"Stripe {text} {payout_id}"[:100],
                "balancing_account_type": against[0],
                "balancing_account_number": against[1],
            }
        )

    suffixes = {
        rules.fee_account: "F",
        rules.tax_on_fee_account: "T",
        rules.dispute_fee_account: "D",
    }
    texts = {
        rules.fee_account: "fees",
        rules.tax_on_fee_account: "tax on fees",
        rules.dispute_fee_account: "dispute fees",
    }
    for account, minor in sorted(plan.fees.items()):
        line(
            GL, account, minor, suffixes.get(account, "F"), texts.get(account, "fees"), fees_against
        )
    if fx_minor:
        line(GL, rules.fx_account, fx_minor, "X", "FX difference", (clearing_type, clearing))
    if itemized:
        moved = [
            t for t in transactions if t.get("type") not in OWN_TYPES and int(t.get("amount") or 0)
        ]
        for index, txn in enumerate(moved, start=1):
            line(
                BANK,
                bank,
                int(txn["amount"]),
                f"{index}",
                f"payout of {txn.get('id')} in",
                (BANK, clearing),
            )
    else:
        line(BANK, bank, net_minor, "N", "payout", (clearing_type, clearing))
    chunks = [lines[i : i + CHUNK] for i in range(0, len(lines), CHUNK)] or [[]]
    single = len(chunks) == 1
    for number, chunk in enumerate(chunks, start=1):
        document = "PO" + (tail[-18:] if single else f"{tail[-16:]}{number:02d}")
        for item in chunk:
            item["document_number"] = document
    return chunks


def on_payout_failed(unit: Unit) -> None:
    """A payout the bank refused: reverse its transfer if it was booked; a person checks why."""
    deps: HandlerDeps = unit.deps
    payout_id = str(unit.envelope.data["object_id"])
    record_id = unit.record(RecordKind.PAYOUT, f"stripe:payout:{payout_id}", stripe_ref=payout_id)
    payout = unit.call(
        record_id, f"fetched Stripe payout {payout_id}", deps.stripe.get_payout, payout_id
    )
    if payout.get("status") != "failed":
        unit.step(
            record_id,
            "decided",
            f"payout is {payout.get('status')}, not failed; nothing to reverse",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    currency = str(payout["currency"]).lower()
    posted = unit.read(
        lambda s: s.execute(
            select(Payout.net_minor, Payout.bc_company_id).where(
                Payout.stripe_payout_id == payout_id, Payout.state == PayoutState.POSTED
            )
        ).first()
    )
    bank = deps.rules.payout_bank(currency)
    if posted is not None and bank is not None:
        cash_moves.book(
            unit,
            record_id,
            cash_moves.CashMove(
                kind=PostingKind.PAYOUT_FAILURE,
                stripe_id=payout_id,
                amount_minor=int(posted[0] or payout["amount"]),
                currency=currency,
                account=bank,
                account_type=BANK,
                prefix="PF",
                text=f"failed payout {payout_id}: transfer reversed",
                bc_company_id=str(posted[1] or ""),
            ),
        )
    todo = (
        f"Stripe could not pay out {format_amount(int(payout['amount']), currency)} "
        f"({payout.get('failure_code') or 'no reason given'}): check the bank account in "
        "Stripe's Dashboard; the money stays in the Stripe balance for the next payout."
    )
    unit.step(record_id, "result", todo)
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        amount_minor=int(payout["amount"]),
        currency=currency,
        flags={"needs_person": "payout_failed", "todo": todo},
        last_error=None,
    )


def _arrival(epoch: object) -> dt.date | None:
    """Stripe's ``arrival_date`` (a Unix time) as the day the bank receives the money (UTC)."""
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        return dt.datetime.fromtimestamp(epoch, dt.UTC).date()
    return None


def _kept(payout_row_id: int, transactions: list[dict[str, Any]]) -> list[PayoutTransaction]:
    """The payout's transactions as kept for the console: what each was, and its source."""

    def minor(value: Any) -> int | None:
        return None if value is None else int(value)

    def text(value: Any, limit: int) -> str | None:
        return str(value)[:limit] if value else None

    return [
        PayoutTransaction(
            payout_id=payout_row_id,
            position=position,
            balance_transaction=str(t.get("id")),
            type=text(t.get("type"), 64) or "unknown",
            reporting_category=text(t.get("reporting_category"), 64),
            source=text(t.get("source"), 255),
            amount_minor=minor(t.get("amount")),
            fee_minor=minor(t.get("fee")),
            net_minor=minor(t.get("net")),
        )
        for position, t in enumerate(transactions)
    ]
