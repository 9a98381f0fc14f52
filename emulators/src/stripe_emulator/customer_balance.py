"""The customer credit balance ledger: `customer_balance_transaction` records and their routes.

Stripe computes a customer's `balance` from "an immutable list of debit and credit
transactions" (docs.stripe.com/invoicing/customer/balance); each entry is a
CustomerBalanceTransaction (stripe-python 16.1.0 `_customer_balance_transaction.py`):
`amount` negative = a credit for the customer, positive = a debit; `ending_balance` is the
customer's balance after it; `type` names the cause. The emulator writes one for every
balance change it makes on its own:

- `credit_note`: the `credit_amount` of a credit note (a credit, so negative);
- `applied_to_invoice`: the balance consumed by (or, when positive, added to) an invoice at
  finalization;
- `invoice_too_small`: an amount due below the currency's minimum charge, carried to the
  balance as a debit (the Invoice docstring's minimum-amount rule).

A `balance` set directly through `POST /v1/customers/{id}` is stored as given and writes no
transaction (the emulator's reading: Stripe's docs do not say which type such a change gets).

Routes (`_customer_balance_transaction_service.py`): `GET /v1/customers/{customer}/
balance_transactions` (`invoice`, `created`, pagination) and `GET .../{transaction}`.
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .errors import resource_missing
from .forms import Params
from .ids import new_id
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("customer_balance", __name__, url_prefix="/v1/customers")


def record_balance_change(
    state: EmulatorState,
    customer: Record,
    amount: int,
    type_: str,
    *,
    currency: str,
    invoice: str | None = None,
    credit_note: str | None = None,
    description: str | None = None,
) -> Record:
    """Move the customer's balance by `amount` and write the ledger entry for it."""
    customer["balance"] = int(customer["balance"]) + amount
    if customer["currency"] is None:
        customer["currency"] = currency
    entry: Record = {
        "id": new_id("customer_balance_transaction"), "object": "customer_balance_transaction",
        "amount": amount, "checkout_session": None, "created": state.clock.now(),
        "credit_note": credit_note, "currency": currency, "customer": customer["id"],
        "customer_account": None, "description": description,
        "ending_balance": customer["balance"], "invoice": invoice, "livemode": False,
        "metadata": {}, "type": type_,
    }  # fmt: skip
    state.store.touch("customer", customer)
    return state.store.add("customer_balance_transaction", entry)


@bp.get("/<customer_id>/balance_transactions")
def list_balance_transactions(customer_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "invoice"))
    state.store.require("customer", customer_id, "customer")
    invoice, created = params.string("invoice"), range_filter(params, "created")
    records = [
        r
        for r in state.store.all("customer_balance_transaction")
        if r["customer"] == customer_id
        and created(r["created"])
        and (invoice is None or r["invoice"] == invoice)
    ]
    return paginate(
        state.store,
        "customer_balance_transaction",
        records,
        params,
        f"/v1/customers/{customer_id}/balance_transactions",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<customer_id>/balance_transactions/<transaction_id>")
def retrieve_balance_transaction(customer_id: str, transaction_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    state.store.require("customer", customer_id, "customer")
    entry = state.store.get("customer_balance_transaction", transaction_id)
    if entry is None or entry["customer"] != customer_id:
        raise resource_missing("customer balance transaction", transaction_id, "id")
    return render(state, entry, expand_paths(params))
