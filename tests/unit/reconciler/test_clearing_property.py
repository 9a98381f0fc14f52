"""Property: after every payout, the clearing account holds exactly what Stripe has not paid out.

A small model of one Stripe balance plays random days: charges (some converted from another
currency at Stripe's rate), partial and full refunds, disputes withdrawn and won or lost, fees
with tax on them, funds that become available after a delay, and payouts of what is available.
The connector's entries (docs/accounting.md) are applied to a model of BC's clearing account:
each movement at its event, each payout through the real ``plan_payout``. After each payout the
clearing account must equal, to the minor unit, the sum of what Stripe holds that is not paid
out yet, valued as BC booked it; and nothing may be left unmatched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from reconciler.payout_plan import Booked
from reconciler.payout_plan import FeeAccounts
from reconciler.payout_plan import plan_payout

ACCOUNTS = FeeAccounts(fee="60100", tax="60110", dispute_fee="60120")
DAY = dt.date(2026, 12, 1)


@dataclasses.dataclass
class Txn:
    id: str
    type: str
    amount: int
    fee: int
    tax: int
    available_on: int
    source: str
    category: str
    paid_out: bool = False
    # What the connector booked for it in BC (LCY minor units); the amount unless converted.
    bc_value: int = 0

    def as_stripe(self) -> dict[str, Any]:
        details = [{"type": "stripe_fee", "amount": self.fee - self.tax}]
        if self.tax:
            details.append({"type": "tax", "amount": self.tax})
        return {
            "id": self.id,
            "type": self.type,
            "reporting_category": self.category,
            "amount": self.amount,
            "fee": self.fee,
            "fee_details": details,
            "source": self.source,
        }


@dataclasses.dataclass
class World:
    txns: list[Txn] = dataclasses.field(default_factory=list)
    booked: dict[str, Booked] = dataclasses.field(default_factory=dict)
    charges: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # id: (left, n)
    clearing: int = 0  # BC's clearing account, LCY minor units
    day: int = 0
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"


def _fee(amount: int, tax_percent: int) -> tuple[int, int]:
    base = (Decimal(amount) * Decimal("0.029")).quantize(Decimal(1), ROUND_HALF_UP) + 30
    tax = (base * Decimal(tax_percent) / 100).quantize(Decimal(1), ROUND_HALF_UP)
    return int(base + tax), int(tax)


events = st.lists(
    st.one_of(
        st.tuples(
            st.just("charge"),
            st.integers(100, 500_000),
            st.integers(0, 3),  # days until available
            st.booleans(),  # converted from EUR
            st.sampled_from([Decimal("1.0712"), Decimal("1.0894"), Decimal("0.9931")]),
        ),
        st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100)),
        st.tuples(st.just("dispute"), st.integers(0, 50), st.sampled_from(["won", "lost", "open"])),
        st.tuples(st.just("payout")),
        st.tuples(st.just("next_day")),
    ),
    max_size=60,
)


def _charge(
    world: World, amount: int, delay: int, converted: bool, rate: Decimal, tax: int
) -> None:
    charge_id = world.next_id("ch")
    if converted:
        # A EUR payment: BC books it at its own rate, Stripe settles it at Stripe's.
        eur = amount
        settled = int((Decimal(eur) * rate).quantize(Decimal(1), ROUND_HALF_UP))
        bc_value = int((Decimal(eur) * Decimal("1.08")).quantize(Decimal(1), ROUND_HALF_UP))
        world.booked[charge_id] = Booked("payment", eur, "eur", DAY)
    else:
        settled = bc_value = amount
        world.booked[charge_id] = Booked("payment", amount, "usd", DAY)
    fee, fee_tax = _fee(settled, tax)
    world.txns.append(
        Txn(world.next_id("txn"), "charge", settled, fee, fee_tax, world.day + delay, charge_id,
            "charge", bc_value=bc_value)
    )  # fmt: skip
    world.charges[charge_id] = (settled, len(world.txns) - 1)
    world.clearing += bc_value


def _refund(world: World, pick: int, percent: int) -> None:
    open_charges = [c for c, (left, _) in world.charges.items() if left > 0]
    if not open_charges:
        return
    charge_id = open_charges[pick % len(open_charges)]
    left, index = world.charges[charge_id]
    amount = max(1, left * percent // 100)
    refund_id = world.next_id("re")
    world.txns.append(
        Txn(world.next_id("txn"), "refund", -amount, 0, 0, world.day, refund_id, "refund",
            bc_value=-amount)
    )  # fmt: skip
    world.booked[refund_id] = Booked("refund", -amount, "usd")
    world.charges[charge_id] = (left - amount, index)
    world.clearing -= amount  # the cash leg, at the refund


def _dispute(world: World, pick: int, outcome: str) -> None:
    open_charges = [c for c, (left, _) in world.charges.items() if left > 0]
    if not open_charges:
        return
    charge_id = open_charges[pick % len(open_charges)]
    left, index = world.charges[charge_id]
    dispute_id = world.next_id("du")
    withdrawn = Txn(world.next_id("txn"), "adjustment", -left, 1500, 0, world.day, dispute_id,
                    "dispute", bc_value=-left)  # fmt: skip
    world.txns.append(withdrawn)
    world.booked[withdrawn.id] = Booked("dispute", -left, "usd")
    world.clearing -= left
    world.charges[charge_id] = (0, index)
    if outcome == "open":
        return
    # Evidence submitted: Stripe's "dispute countered fee", a fee alone (no amount).
    world.txns.append(Txn(world.next_id("txn"), "adjustment", 0, 1500, 0, world.day, dispute_id,
                          "dispute"))  # fmt: skip
    if outcome == "won":
        # The disputed amount comes back with the countered fee; the dispute fee stays.
        back = Txn(world.next_id("txn"), "adjustment", left, -1500, 0, world.day, dispute_id,
                   "dispute_reversal", bc_value=left)  # fmt: skip
        world.txns.append(back)
        world.booked[back.id] = Booked("dispute", left, "usd")
        world.clearing += left
        world.charges[charge_id] = (left, index)


def _payout(world: World) -> None:
    swept = [t for t in world.txns if not t.paid_out and t.available_on <= world.day]
    net = sum(t.amount - t.fee for t in swept)
    if net <= 0:
        return  # Stripe pays out a positive balance only
    plan = plan_payout([t.as_stripe() for t in swept], world.booked, currency="usd",
                       accounts=ACCOUNTS)  # fmt: skip
    assert plan.unmatched == []
    fx = sum(
        int((Decimal(c.booked.amount_minor) * Decimal("1.08")).quantize(Decimal(1), ROUND_HALF_UP))
        - c.settled_minor
        for c in plan.converted
    )
    for t in swept:
        t.paid_out = True
    # The payout's lines, each against the clearing account: fees, FX difference, net.
    world.clearing -= plan.fee_total + fx + net
    unpaid = sum(t.bc_value for t in world.txns if not t.paid_out)
    assert world.clearing == unpaid


@settings(max_examples=300, deadline=None)
@given(events=events, tax=st.sampled_from([0, 20]))
def test_clearing_after_each_payout_is_what_stripe_has_not_paid_out(
    events: list[tuple[Any, ...]], tax: int
) -> None:
    world = World()
    for event in events:
        match event:
            case ("charge", amount, delay, converted, rate):
                _charge(world, amount, delay, converted, rate, tax)
            case ("refund", pick, percent):
                _refund(world, pick, percent)
            case ("dispute", pick, outcome):
                _dispute(world, pick, outcome)
            case ("payout",):
                _payout(world)
            case ("next_day",):
                world.day += 1
    world.day += 10
    _payout(world)


def test_fees_go_to_their_accounts_and_a_returned_dispute_fee_is_a_credit() -> None:
    txns = [
        {"id": "txn_1", "type": "charge", "amount": 10000, "fee": 378, "source": "ch_1",
         "fee_details": [{"type": "stripe_fee", "amount": 320}, {"type": "tax", "amount": 58}]},
        {"id": "txn_2", "type": "adjustment", "reporting_category": "dispute", "amount": -10000,
         "fee": 1500, "source": "du_1", "fee_details": [{"type": "stripe_fee", "amount": 1500}]},
        {"id": "txn_3", "type": "adjustment", "reporting_category": "dispute_reversal",
         "amount": 10000, "fee": -1500, "source": "du_1", "fee_details": []},
        {"id": "txn_4", "type": "payout", "amount": -9622, "fee": 0, "source": "po_1"},
        {"id": "txn_5", "type": "topup", "amount": 500, "fee": 0, "source": "tu_1"},
        {"id": "txn_6", "type": "adjustment", "reporting_category": "dispute", "amount": 0,
         "fee": 1500, "source": "du_1", "fee_details": [{"type": "stripe_fee", "amount": 1500}]},
    ]  # fmt: skip
    booked = {
        "ch_1": Booked("payment", 10000, "usd"),
        "txn_2": Booked("dispute", -10000, "usd"),
        "txn_3": Booked("dispute", 10000, "usd"),
    }
    plan = plan_payout(txns, booked, currency="usd", accounts=ACCOUNTS)
    # The withdrawal's fee and the countered fee, less the countered fee Stripe returned.
    assert plan.fees == {"60100": 320, "60110": 58, "60120": 1500}
    assert plan.matched == 4
    assert [u["balance_transaction"] for u in plan.unmatched] == ["txn_5"]
    assert "topup" in plan.unmatched[0]["reason"]


def test_a_converted_payment_is_reported_with_what_stripe_settled() -> None:
    txns = [{"id": "txn_1", "type": "charge", "amount": 10712, "fee": 341, "source": "ch_1"}]
    plan = plan_payout(
        txns, {"ch_1": Booked("payment", 10000, "eur", DAY)}, currency="usd", accounts=ACCOUNTS
    )
    [converted] = plan.converted
    assert (converted.source, converted.settled_minor) == ("ch_1", 10712)
    assert plan.fees == {"60100": 341}


def test_a_refund_booked_as_something_else_is_not_matched() -> None:
    txns = [{"id": "txn_9", "type": "refund", "amount": -500, "fee": 0, "source": "re_1"}]
    plan = plan_payout(
        txns, {"re_1": Booked("payment", 500, "usd")}, currency="usd", accounts=ACCOUNTS
    )
    assert plan.unmatched == [
        {"balance_transaction": "txn_9", "reason": "refund re_1 has no BC posting"}
    ]
