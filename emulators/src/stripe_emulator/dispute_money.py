"""What a dispute does to the balance: withdrawal, countered fee, reinstatement.

Stripe's rules, and the sources:

- Opening a chargeback withdraws the disputed amount and the dispute fee as one balance
  transaction ("This will appear in your balance history as a single balance transaction for
  the dispute amount and fee", support.stripe.com/questions/dispute-fees-faq): type
  `adjustment`, `reporting_category` `dispute`, amount = -disputed amount, fee = the dispute
  fee (`fee_details` `stripe_fee` "Dispute fee"), source = the dispute, available at once
  (docs.stripe.com/disputes: the issuer "immediately reverses the payment"). Inquiries move no
  money (docs.stripe.com/disputes/how-disputes-work#inquiries).
- Countering: since 2025-06-17 "a new dispute counter fee will apply when you counter disputes
  ... This fee will be returned if you win. Your existing dispute fee is not changing"
  (support.stripe.com/questions/june-2025-pricing-updates-for-disputes); "If you choose to
  counter the dispute, a dispute countered fee applies (excluding businesses in Mexico and
  Japan) ... If the dispute is found in your favor, the disputed amount and the dispute
  countered fee is returned to you" (support.stripe.com/topics/disputes). So on a win the
  dispute fee itself is NOT returned, only the countered fee. The older rule (Stripe refunded
  the dispute fee on a win, earlier versions of the dispute-fees FAQ) is the setting
  `dispute_fee_refunded_on_win`; `dispute_countered_fees` = `{}` models an account in Mexico or
  Japan. US amounts: 15.00 USD each (config.py).
- Winning adds a second transaction, `adjustment` / `dispute_reversal`, amount = +disputed
  amount; the fees given back appear as a negative `fee` on it. A loss moves nothing more.

Emulator's reading where Stripe publishes no API shape: the countered fee is its own
`adjustment` / `dispute` transaction (amount 0, fee = the countered fee, "Dispute countered
fee", source = the dispute) written when evidence is first submitted; it is not one of the
dispute's `balance_transactions` (the SDK allows at most two: withdrawal and reinstatement)
but `BalanceTransaction.list(source=du_...)` finds it. Amounts settle like the disputed charge
(settlement.py), at the exchange rate configured when each movement happens.
"""

from __future__ import annotations

from .config import EmulatorConfig
from .fees import NO_FEE
from .fees import Fee
from .fees import stripe_fee
from .ledger import balance_transaction
from .ledger import settled_like_charge
from .state import EmulatorState
from .store import Record


def _configured(fees: dict[str, int], currency: str) -> int:
    return fees.get(currency, fees.get("default", 0))


def dispute_fee(config: EmulatorConfig, currency: str) -> Fee:
    return stripe_fee(config, _configured(config.dispute_fees, currency), currency, "Dispute fee")


def countered_fee(config: EmulatorConfig, currency: str) -> Fee:
    amount = _configured(config.dispute_countered_fees, currency)
    return stripe_fee(config, amount, currency, "Dispute countered fee")


def _stored_fee(state: EmulatorState, txn_id: str | None) -> Fee:
    txn = state.store.get("balance_transaction", txn_id) if txn_id else None
    return NO_FEE if txn is None else Fee(tuple(dict(part) for part in txn["fee_details"]))


def withdraw(state: EmulatorState, dispute: Record, charge: Record) -> Record:
    """Take the disputed amount and the dispute fee out of the balance."""
    settled = settled_like_charge(state, charge, int(dispute["amount"]))
    txn = balance_transaction(
        state,
        amount=-settled.amount,
        currency=settled.currency,
        type_="adjustment",
        category="dispute",
        source=dispute["id"],
        fee=dispute_fee(state.config, settled.currency),
        description=f"Chargeback withdrawal for {charge['id']}",
        exchange_rate=settled.exchange_rate,
    )
    dispute["_balance_transaction_ids"].append(txn["id"])
    return txn


def charge_countered_fee(state: EmulatorState, dispute: Record, charge: Record) -> None:
    """Bill the countered fee once, when evidence is first submitted on a chargeback."""
    if dispute["_countered_fee_transaction"] is not None or not dispute["_balance_transaction_ids"]:
        return
    withdrawal = state.store.require("balance_transaction", dispute["_balance_transaction_ids"][0])
    fee = countered_fee(state.config, withdrawal["currency"])
    if fee.total == 0:
        return
    txn = balance_transaction(
        state,
        amount=0,
        currency=withdrawal["currency"],
        type_="adjustment",
        category="dispute",
        source=dispute["id"],
        fee=fee,
        description=f"Dispute countered fee for {charge['id']}",
    )
    dispute["_countered_fee_transaction"] = txn["id"]


def reinstate(state: EmulatorState, dispute: Record, charge: Record) -> Record:
    """Give the disputed amount back after a win, with the fees Stripe returns."""
    settled = settled_like_charge(state, charge, int(dispute["amount"]))
    returned = _stored_fee(state, dispute["_countered_fee_transaction"])
    if state.config.dispute_fee_refunded_on_win:
        returned = _stored_fee(state, dispute["_balance_transaction_ids"][0]) + returned
    txn = balance_transaction(
        state,
        amount=settled.amount,
        currency=settled.currency,
        type_="adjustment",
        category="dispute_reversal",
        source=dispute["id"],
        fee=returned.negated(),
        description=f"Chargeback reversal for {charge['id']}",
        exchange_rate=settled.exchange_rate,
    )
    dispute["_balance_transaction_ids"].append(txn["id"])
    return txn
