"""Payouts: the automatic-payout helper and the `/v1/payouts` API (stripe-api.md §8).

`pay_out_balance` (control surface) sweeps, per currency, every available balance transaction
not yet paid out into one automatic payout with its own `payout` balance transaction, marks
the swept transactions (so `BalanceTransaction.list(payout=po_...)` returns them plus the
payout's own transaction), and walks the payout to `paid` with `reconciliation_status`
`completed` (events `payout.created`, `payout.paid`, `payout.reconciliation_completed`).
`POST /v1/payouts` makes a manual payout (`automatic=false`, `not_applicable`) from the
available balance. HUF/TWD "divisible by 100" payout rules are not modelled.
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .balance import balances
from .currency import validate_currency
from .errors import StripeError
from .errors import invalid_transition
from .events import emit
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .ledger import balance_transaction
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("payouts", __name__, url_prefix="/v1/payouts")


def new_payout(state: EmulatorState, amount: int, currency: str, *, automatic: bool) -> Record:
    payout_id = new_id("payout")
    now = state.clock.now()
    txn = balance_transaction(
        state,
        amount=-amount,
        currency=currency,
        type_="payout",
        category="payout",
        source=payout_id,
        description="STRIPE PAYOUT",
    )
    payout: Record = {
        "id": payout_id, "object": "payout", "amount": amount, "application_fee": None,
        "application_fee_amount": None, "arrival_date": now, "automatic": automatic,
        "balance_transaction": txn["id"], "created": now, "currency": currency,
        "description": "STRIPE PAYOUT" if automatic else None,
        "destination": "ba_emulator", "failure_balance_transaction": None,
        "failure_code": None, "failure_message": None, "livemode": False, "metadata": {},
        "method": "standard", "original_payout": None, "payout_method": None,
        "reconciliation_status": "in_progress" if automatic else "not_applicable",
        "reversed_by": None, "source_type": "card", "statement_descriptor": None,
        "status": "pending", "trace_id": None, "type": "bank_account",
    }  # fmt: skip
    if automatic:
        txn["_payout"] = payout_id
    state.store.add("payout", payout)
    emit(state, "payout.created", payout)
    return payout


def pay_out_balance(
    state: EmulatorState, currency: str | None, *, reconcile: bool = True
) -> list[Record]:
    """One automatic payout per currency with a positive unpaid available balance."""
    now = state.clock.now()
    groups: dict[str, list[Record]] = {}
    for txn in state.store.all("balance_transaction", newest_first=False):
        unpaid = txn["_payout"] is None and txn["type"] != "payout"
        wanted = currency is None or txn["currency"] == currency
        if unpaid and wanted and txn["available_on"] <= now:
            groups.setdefault(txn["currency"], []).append(txn)
    payouts = []
    for code, txns in sorted(groups.items()):
        total = sum(int(t["net"]) for t in txns)
        if total <= 0:
            continue
        payout = new_payout(state, total, code, automatic=True)
        for txn in txns:
            txn["_payout"] = payout["id"]
        mark_paid(state, payout)
        if reconcile:
            complete_reconciliation(state, payout)
        payouts.append(payout)
    return payouts


def mark_paid(state: EmulatorState, payout: Record) -> None:
    if payout["status"] not in ("pending", "in_transit"):
        raise invalid_transition(f"Payout {payout['id']} is {payout['status']} and cannot be paid.")
    payout["status"] = "paid"
    emit(state, "payout.paid", payout)


def fail_payout(state: EmulatorState, payout: Record, code: str) -> None:
    """The bank returned the payout: the money comes back to the balance.

    Stripe: a payout can fail even after it was ``paid`` (the receiving bank returns it, within
    a few business days); its status becomes ``failed`` with a ``failure_code``, a
    ``payout_failure`` balance transaction (reporting category ``payout_reversal``) returns the
    amount to the balance, named by ``failure_balance_transaction``, and ``payout.failed`` is
    sent (docs.stripe.com/payouts, "Payout failures"; SDK ``_payout.py`` ``failure_code``,
    ``failure_balance_transaction``; ``_balance_transaction.py`` type ``payout_failure``).
    """
    if payout["status"] not in ("pending", "in_transit", "paid"):
        raise invalid_transition(f"Payout {payout['id']} is {payout['status']} and cannot fail.")
    txn = balance_transaction(
        state,
        amount=int(payout["amount"]),
        currency=payout["currency"],
        type_="payout_failure",
        category="payout_reversal",
        source=payout["id"],
        description="STRIPE PAYOUT FAILURE",
    )
    previous = {"status": payout["status"], "failure_code": None}
    payout["status"] = "failed"
    payout["failure_code"] = code
    payout["failure_message"] = FAILURE_MESSAGES.get(code, "The payout failed.")
    payout["failure_balance_transaction"] = txn["id"]
    emit(state, "payout.updated", payout, previous)
    emit(state, "payout.failed", payout)


# A few of Stripe's payout failure codes with their messages (docs.stripe.com/api/payouts/failures).
FAILURE_MESSAGES = {
    "account_closed": "The bank account has been closed.",
    "no_account": "The bank account details on file are probably incorrect.",
    "invalid_account_number": "The routing number seems correct, but the account number is "
    "invalid.",
}


def complete_reconciliation(state: EmulatorState, payout: Record) -> None:
    if not payout["automatic"]:
        raise invalid_transition("Only automatic payouts are reconciled.")
    previous = {"reconciliation_status": payout["reconciliation_status"]}
    payout["reconciliation_status"] = "completed"
    emit(state, "payout.updated", payout, previous)
    emit(state, "payout.reconciliation_completed", payout)


@bp.post("")
def create_payout() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(
        (
            "amount",
            "currency",
            "description",
            "destination",
            "expand",
            "metadata",
            "method",
            "payout_method",
            "source_type",
            "statement_descriptor",
        )
    )
    amount = params.integer("amount", required=True, minimum=1) or 0
    currency = validate_currency(params.string("currency", required=True) or "")
    available, _pending = balances(state)
    if available.get(currency, 0) < amount:
        raise StripeError(
            400,
            "You have insufficient funds in your Stripe account for this transfer.",
            code="balance_insufficient",
            param="amount",
        )
    payout = new_payout(state, amount, currency, automatic=False)
    payout["description"] = params.text("description")
    payout["statement_descriptor"] = params.text("statement_descriptor")
    payout["method"] = params.string("method", choices=("standard", "instant")) or "standard"
    payout["metadata"] = merge_metadata({}, params.metadata())
    return render(state, payout, expand_paths(params))


@bp.get("")
def list_payouts() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "arrival_date", "destination", "status"))
    status = params.string("status")
    created, arrival = range_filter(params, "created"), range_filter(params, "arrival_date")
    records = [
        r
        for r in state.store.all("payout")
        if created(r["created"])
        and arrival(r["arrival_date"])
        and (status is None or r["status"] == status)
    ]
    return paginate(
        state.store,
        "payout",
        records,
        params,
        "/v1/payouts",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<payout_id>")
def retrieve_payout(payout_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    return render(state, state.store.require("payout", payout_id, "payout"), expand_paths(params))


@bp.post("/<payout_id>")
def update_payout(payout_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", "metadata"))
    payout = state.store.require("payout", payout_id, "payout")
    payout["metadata"] = merge_metadata(payout["metadata"], params.metadata())
    return render(state, payout, expand_paths(params))


@bp.post("/<payout_id>/cancel")
def cancel_payout(payout_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    payout = state.store.require("payout", payout_id, "payout")
    if payout["status"] != "pending" or payout["automatic"]:
        raise invalid_transition(
            f"Payout {payout_id} cannot be canceled (status {payout['status']})."
        )
    payout["status"] = "canceled"
    balance_transaction(
        state,
        amount=payout["amount"],
        currency=payout["currency"],
        type_="payout_cancel",
        category="payout_reversal",
        source=payout_id,
        description="PAYOUT CANCELED",
    )
    emit(state, "payout.canceled", payout)
    return render(state, payout, expand_paths(params))
