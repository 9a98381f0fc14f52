"""What a payout books, worked out from its balance transactions alone (pure, no I/O).

By the time a payout is paid, every movement it settles was booked at its own event
(docs/accounting.md): a payment, a refund's cash leg, a dispute's withdrawal or reinstatement.
The payout itself books what only it itemizes, each against the clearing account of its
currency:

- the fees of its balance transactions, by ``fee_details`` type: Stripe's fee to the fee
  account, ``tax`` to the fee tax account, a dispute's fee (and its return) to the dispute fee
  account;
- for payments Stripe converted into the settlement currency (the balance transaction is in
  another currency than the payment), the difference between BC's local-currency value of the
  payment and what Stripe settled, to the FX account;
- the net to the firm's bank account.

A balance transaction the connector did not book is listed as unmatched, never guessed. With
these rules the clearing account after a payout holds exactly the amounts of the balance
transactions not paid out yet: the property ``tests/unit/reconciler/test_clearing_property.py``
checks over random days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from mlconnector.money import from_minor
from mlconnector.money import to_minor

#: BC's LCY values of amounts in a currency posted on a day: (currency, ISO day, amounts).
LcyValues = Callable[[str, str, list[str]], Sequence[object]]

PAYMENT_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})
DISPUTE_CATEGORIES = frozenset({"dispute", "dispute_reversal"})
# A failed payout's money coming back: matched to the reversal the connector booked.
FAILURE_TYPES = frozenset({"payout_failure", "payout_cancel"})
OWN_TYPES = frozenset({"payout"})


@dataclasses.dataclass(frozen=True)
class Booked:
    """What the connector booked in BC for one Stripe object (a posting)."""

    kind: str
    amount_minor: int
    currency: str
    posted_on: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class FeeAccounts:
    fee: str
    tax: str
    dispute_fee: str


@dataclasses.dataclass
class Converted:
    """A payment Stripe converted: its BC amount and what Stripe settled for it."""

    source: str
    booked: Booked
    settled_minor: int


@dataclasses.dataclass
class PayoutPlan:
    fees: dict[str, int] = dataclasses.field(default_factory=dict)
    converted: list[Converted] = dataclasses.field(default_factory=list)
    unmatched: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    matched: int = 0

    @property
    def fee_total(self) -> int:
        return sum(self.fees.values())


def booking_key(txn: Mapping[str, Any]) -> str:
    """The Stripe id the connector booked a balance transaction's movement under."""
    if txn.get("type") == "adjustment" and txn.get("reporting_category") in DISPUTE_CATEGORIES:
        return str(txn.get("id"))
    return str(txn.get("source"))


def expected_kind(txn: Mapping[str, Any]) -> str | None:
    """The posting kind a balance transaction's movement was booked as; None: not booked."""
    kind = str(txn.get("type"))
    if kind in PAYMENT_TYPES:
        return "payment"
    if kind in REFUND_TYPES:
        return "refund"
    if kind == "adjustment" and txn.get("reporting_category") in DISPUTE_CATEGORIES:
        return "dispute"
    if kind in FAILURE_TYPES:
        return "payout_failure"
    return None


def is_fee_only(txn: Mapping[str, Any]) -> bool:
    """A dispute transaction that moved no money, only a fee (booked with the payout's fees)."""
    return expected_kind(txn) == "dispute" and not int(txn.get("amount") or 0)


def _add(fees: dict[str, int], account: str, minor: int) -> None:
    if minor:
        fees[account] = fees.get(account, 0) + minor


def _book_fees(plan: PayoutPlan, txn: Mapping[str, Any], accounts: FeeAccounts) -> None:
    fee = int(txn.get("fee") or 0)
    is_dispute = expected_kind(txn) == "dispute"
    plain = accounts.dispute_fee if is_dispute else accounts.fee
    itemized = 0
    for detail in txn.get("fee_details") or []:
        minor = int(detail.get("amount") or 0)
        itemized += minor
        _add(plan.fees, accounts.tax if detail.get("type") == "tax" else plain, minor)
    # Whatever the details do not itemize (or no details at all) is the plain fee.
    _add(plan.fees, plain, fee - itemized)


def plan_payout(
    txns: Sequence[Mapping[str, Any]],
    booked: Mapping[str, Booked],
    *,
    currency: str,
    accounts: FeeAccounts,
) -> PayoutPlan:
    """Fees by account, converted payments, and what could not be matched."""
    plan = PayoutPlan()
    for txn in txns:
        kind = str(txn.get("type"))
        if kind in OWN_TYPES:
            continue
        _book_fees(plan, txn, accounts)
        expected = expected_kind(txn)
        key = booking_key(txn)
        found = booked.get(key)
        if is_fee_only(txn):
            # A fee alone (Stripe's "dispute countered fee" when evidence is submitted): no
            # money moved at the event, so nothing was booked but its fee, booked here.
            plan.matched += 1
            continue
        if expected is None:
            plan.unmatched.append(
                {
                    "balance_transaction": txn.get("id"),
                    "reason": f"type {kind} is not booked automatically",
                }
            )
            continue
        if found is None or found.kind != expected:
            plan.unmatched.append(
                {"balance_transaction": txn.get("id"), "reason": f"{kind} {key} has no BC posting"}
            )
            continue
        plan.matched += 1
        if expected == "payment" and found.currency != currency:
            plan.converted.append(Converted(key, found, int(txn.get("amount") or 0)))
    # A dispute fee returned in the same payout cancels out: no line for it.
    plan.fees = {account: minor for account, minor in plan.fees.items() if minor}
    return plan


def fx_difference(
    converted: Sequence[Converted], currency: str, today: dt.date, lcy_values: LcyValues
) -> int:
    """BC's LCY value of converted payments minus what Stripe settled, in minor units.

    Positive: BC valued the payments above what Stripe paid out (a loss). BC's values are asked
    once per currency and posting day (one exchange rate applies to each such group).
    """
    groups: dict[tuple[str, str], list[Converted]] = {}
    for item in converted:
        day = (item.booked.posted_on or today).isoformat()
        groups.setdefault((item.booked.currency, day), []).append(item)
    difference = 0
    for (paid_in, day), items in groups.items():
        amounts = [str(from_minor(i.booked.amount_minor, paid_in)) for i in items]
        values = lcy_values(paid_in, day, amounts)
        for item, value in zip(items, values, strict=True):
            difference += to_minor(Decimal(str(value)), currency) - item.settled_minor
    return difference
