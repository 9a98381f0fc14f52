"""Balance transactions: the single writer of the account's ledger.

Every money movement (charge, refund, dispute withdrawal or reversal, payout, payout cancel)
is one `balance_transaction` record: `amount` (gross), `fee` + `fee_details`, `net` = amount -
fee, `currency` (the settlement currency), `exchange_rate` (when converted), `available_on`
and a private `_payout` marker set when an automatic payout sweeps it. `status` is computed on
read from `available_on` (render.py), so the emulator clock alone moves funds from pending to
available.

Only charges wait for `available_after_days`; refunds and dispute movements are available at
once, so they reduce the available balance immediately: Stripe covers a refund from the
account balance when it is made (a refund that would take the balance negative is held as
`pending`, support.stripe.com/questions/pending-refunds-due-to-insufficient-stripe-balance,
not modelled), and a dispute "immediately reverses the payment ... Stripe debits your balance
for the payment amount and dispute fee" (docs.stripe.com/disputes).
"""

from __future__ import annotations

from decimal import Decimal

from .fees import NO_FEE
from .fees import Fee
from .fees import processing_fee
from .ids import new_id
from .settlement import Settled
from .settlement import convert
from .settlement import settle
from .state import EmulatorState
from .store import Record

DAY = 86400


def balance_transaction(
    state: EmulatorState,
    *,
    amount: int,
    currency: str,
    type_: str,
    category: str,
    source: str,
    fee: Fee = NO_FEE,
    description: str | None = None,
    available_days: int = 0,
    exchange_rate: Decimal | None = None,
) -> Record:
    """Write one balance transaction; `available_days` = 0 means available now."""
    now = state.clock.now()
    record: Record = {
        "id": new_id("balance_transaction"), "object": "balance_transaction",
        "amount": amount, "available_on": now + available_days * DAY,
        "balance_type": "payments", "created": now, "currency": currency,
        "description": description,
        "exchange_rate": None if exchange_rate is None else float(exchange_rate),
        "fee": fee.total, "fee_details": fee.fee_details(), "net": amount - fee.total,
        "reporting_category": category, "source": source, "status": "pending",
        "type": type_, "_payout": None,
    }  # fmt: skip
    return state.store.add("balance_transaction", record)


def charge_transaction(state: EmulatorState, charge: Record) -> Record:
    """The `charge` transaction of a succeeded charge: settled, fee on the settled amount."""
    settled = settle(state.config, int(charge["amount"]), charge["currency"])
    return balance_transaction(
        state,
        amount=settled.amount,
        currency=settled.currency,
        type_="charge",
        category="charge",
        source=charge["id"],
        fee=processing_fee(state.config, settled.amount, settled.currency),
        description=charge["description"],
        available_days=state.config.available_after_days,
        exchange_rate=settled.exchange_rate,
    )


def settled_like_charge(state: EmulatorState, charge: Record, amount: int) -> Settled:
    """`amount` (charge currency) in the currency the charge settled in, at today's rate."""
    into = charge["currency"]
    txn_id = charge.get("balance_transaction")
    txn = state.store.get("balance_transaction", txn_id) if txn_id else None
    if txn is not None:
        into = txn["currency"]
    return convert(state.config, amount, charge["currency"], into)
