"""The daily drift check: does each clearing account in BC hold what Stripe says is in flight?

docs/accounting.md ("Pending funds") gives the identity the connector's entries keep, per
currency:

    clearing account in BC = Stripe's balance (available + pending)
                           + payouts that left the balance but are not booked yet
                           + fees of the balance transactions no booked payout settled
                           - movements Stripe made that the connector has not booked yet
                           + for payments Stripe converted and has not paid out: BC's value
                             of them minus what Stripe settled

The first term is Stripe's balance; the others are what is in flight, each itemized on the
check's record. What is left is the drift: zero when everything is explained. Anything else
is an item for a person (someone booked on the clearing account by hand, or a movement the
connector missed) and the ``mlc_clearing_drift`` metric.

Sources. Stripe: the balance, the balance transactions and payouts created in the last
``lookback_days`` (older ones are taken as paid out: keep the window above the payout delay).
BC: the clearing G/L account's balance, summed from its G/L entries. A foreign-currency clearing
is a bank account, and BC's standard API exposes no bank account balance, so for those the BC
side is what the connector itself booked on it (its postings and payouts): the check then
proves Stripe and the connector agree, and a hand-made entry on that bank account is out of
its sight (said on the record).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.money import format_amount
from mlconnector.money import from_minor
from mlconnector.money import to_minor
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.payout_plan import OWN_TYPES
from reconciler.payout_plan import Booked
from reconciler.payout_plan import Converted
from reconciler.payout_plan import booking_key
from reconciler.payout_plan import fx_difference
from reconciler.rules import HandlerDeps

ACTOR = "drift-check"
IN_FLIGHT = ("pending", "in_transit")


@dataclasses.dataclass
class Drift:
    """One currency's figures, minor units of that currency."""

    currency: str
    bc: int
    bc_source: str
    stripe_balance: int = 0
    payouts_in_flight: int = 0
    fees_not_booked: int = 0
    movements_not_booked: int = 0
    conversions_not_settled: int = 0

    @property
    def expected(self) -> int:
        return (
            self.stripe_balance
            + self.payouts_in_flight
            + self.fees_not_booked
            - self.movements_not_booked
            + self.conversions_not_settled
        )

    @property
    def difference(self) -> int:
        return self.bc - self.expected

    def figures(self) -> dict[str, str]:
        shown = {
            "bc_clearing": self.bc,
            "stripe_balance": self.stripe_balance,
            "payouts_in_flight": self.payouts_in_flight,
            "fees_not_booked": self.fees_not_booked,
            "movements_not_booked": self.movements_not_booked,
            "conversions_not_settled": self.conversions_not_settled,
            "difference": self.difference,
        }
        return {k: str(from_minor(v, self.currency)) for k, v in shown.items()}


def _booked_ledger(session: Session, currency: str) -> int:
    """What the connector booked on a foreign clearing bank account, in minor units."""
    moved = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_minor), 0)).where(
            Posting.currency == currency,
            Posting.state == PostingState.POSTED,
            Posting.kind != PostingKind.PAYMENT,
        )
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_minor), 0)).where(
            Posting.currency == currency,
            Posting.state == PostingState.POSTED,
            Posting.kind == PostingKind.PAYMENT,
        )
    )
    paid_out = session.scalar(
        select(
            func.coalesce(
                func.sum(
                    func.coalesce(Payout.net_minor, 0)
                    + func.coalesce(Payout.fee_minor, 0)
                    + func.coalesce(Payout.fx_minor, 0)
                ),
                0,
            )
        ).where(Payout.currency == currency, Payout.state == PayoutState.POSTED)
    )
    return int(paid or 0) + int(moved or 0) - int(paid_out or 0)


def run_drift_check(
    deps: HandlerDeps,
    sessions: sessionmaker[Session],
    *,
    lookback_days: int = 35,
    now: dt.datetime | None = None,
    actor: str = ACTOR,
) -> list[Drift]:
    """Check every clearing account, record each result, and return them."""
    rules = deps.rules
    moment = now or dt.datetime.now(dt.UTC)
    since = int((moment - dt.timedelta(days=lookback_days)).timestamp())
    balance = deps.stripe.balance()
    txns = deps.stripe.balance_transactions_since(since)
    payouts = deps.stripe.payouts_since(since)
    currencies = [rules.lcy_currency, *sorted(rules.currency_clearing)]
    with sessions() as session:
        booked_payouts = {
            p.stripe_payout_id: p
            for p in session.scalars(select(Payout).where(Payout.state == PayoutState.POSTED))
        }
        settled = {t for p in booked_payouts.values() for t in (p.transactions or [])}
        keys = [booking_key(t) for t in txns]
        postings = {
            p.stripe_id: p
            for p in session.scalars(
                select(Posting).where(
                    Posting.stripe_id.in_(keys), Posting.state == PostingState.POSTED
                )
            )
        }
        ledgers = {c: _booked_ledger(session, c) for c in currencies[1:]}
    lcy_balance = deps.bc.gl_balance(rules.clearing_account)
    results = []
    for currency in currencies:
        if currency == rules.lcy_currency:
            bc = to_minor(Decimal(str(lcy_balance["balance"])), currency)
            source = f"BC: G/L {rules.clearing_account}"
        else:
            bc = ledgers[currency]
            source = (
                f"the connector's bookings on bank account "
                f"{rules.currency_clearing[currency].bank_account} (BC's API shows no bank "
                "balance)"
            )
        drift = Drift(currency, bc, source)
        drift.stripe_balance = int(balance["available"].get(currency, 0)) + int(
            balance["pending"].get(currency, 0)
        )
        for payout in payouts:
            if str(payout["currency"]) != currency:
                continue
            unbooked_paid = payout["status"] == "paid" and payout["id"] not in booked_payouts
            if payout["status"] in IN_FLIGHT or unbooked_paid:
                drift.payouts_in_flight += int(payout["amount"])
        converted: list[tuple[Posting, int]] = []
        for txn in txns:
            if str(txn["currency"]) != currency or txn["type"] in OWN_TYPES:
                continue
            if txn["id"] in settled:
                continue
            drift.fees_not_booked += int(txn.get("fee") or 0)
            posting = postings.get(booking_key(txn))
            amount = int(txn.get("amount") or 0)
            if posting is None:
                drift.movements_not_booked += amount
            elif posting.currency != currency:
                converted.append((posting, amount))
        drift.conversions_not_settled = _conversions(deps, converted, currency)
        results.append(drift)
    _record(sessions, results, moment, actor)
    return results


def _conversions(deps: HandlerDeps, converted: list[tuple[Posting, int]], currency: str) -> int:
    """BC's LCY value of converted payments not paid out, minus what Stripe settled."""
    items = [
        Converted(
            p.stripe_id,
            Booked(
                p.kind.value,
                p.amount_minor,
                p.currency,
                p.posted_at.date() if p.posted_at else None,
            ),
            settled,
        )
        for p, settled in converted
    ]

    def lcy_values(paid_in: str, day: str, amounts: list[str]) -> list[object]:
        return list(deps.bc.lcy_amounts(paid_in, day, amounts)["amounts_lcy"])

    return fx_difference(items, currency, dt.datetime.now(dt.UTC).date(), lcy_values)


def _record(
    sessions: sessionmaker[Session], results: Iterable[Drift], moment: dt.datetime, actor: str
) -> None:
    """One record per currency and day: the figures, and an item for a person if unexplained."""
    day = moment.date().isoformat()
    with sessions.begin() as session:
        for drift in results:
            key = f"drift:{drift.currency}:{day}"
            record = session.scalar(
                select(SyncRecord).where(
                    SyncRecord.kind == RecordKind.DRIFT, SyncRecord.business_key == key
                )
            )
            if record is None:
                record = SyncRecord(kind=RecordKind.DRIFT, business_key=key, flags={})
                session.add(record)
            shown = format_amount(abs(drift.difference), drift.currency)
            flags: dict[str, Any] = {"figures": drift.figures(), "bc_source": drift.bc_source}
            if drift.difference:
                summary = (
                    f"the {drift.currency.upper()} clearing account is "
                    f"{'above' if drift.difference > 0 else 'below'} what Stripe holds in "
                    f"flight by {shown}"
                )
                flags.update(
                    needs_person="clearing_drift",
                    todo=f"{summary}: compare the clearing account's entries with Stripe's "
                    "balance transactions of that currency (docs/accounting.md).",
                )
                record.state = RecordState.UNMATCHED
                record.last_error = summary
            else:
                summary = (
                    f"the {drift.currency.upper()} clearing account matches Stripe: "
                    f"{format_amount(drift.bc, drift.currency)}, all of it explained"
                )
                record.state = RecordState.SUCCEEDED
                record.last_error = None
            record.flags = flags
            record.currency = drift.currency
            record.amount_minor = drift.difference
            session.flush()
            session.add(
                AuditEvent(
                    record_id=record.id,
                    action="checked",
                    summary=summary,
                    response_summary=flags["figures"],
                    outcome=AuditOutcome.OK if not drift.difference else AuditOutcome.ERROR,
                    actor=actor,
                )
            )
