"""Refunds: full and partial, with their balance transactions (stripe-api.md §7).

A refund succeeds at once, adds a `refund` balance transaction (negative amount, no fee:
Stripe keeps the processing fee; available at once, ledger.py), raises the charge's cumulative
`amount_refunded` and sets `refunded` only when the whole amount is refunded. Events:
`refund.created` and `charge.refunded` (also for partial refunds). Invoices stay `paid`.

A refund of a converted charge settles in the charge's settlement currency at the rate
configured now (settlement.py). A charge with a chargeback cannot be refunded: error code
`charge_disputed` (one of the codes stripe-python 16.1.0 lists, e.g. `_payment_intent.py`
`LastPaymentError.code`; "The charge you're attempting to refund has been charged back",
docs.stripe.com/error-codes#charge-disputed); an inquiry still can (`is_charge_refundable`).
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .currency import validate_amount_granularity
from .disputes import charged_back
from .errors import StripeError
from .errors import invalid_transition
from .errors import param_invalid
from .events import emit
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .ledger import balance_transaction
from .ledger import settled_like_charge
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("refunds", __name__, url_prefix="/v1/refunds")

CREATE_PARAMS = (
    "amount",
    "charge",
    "currency",
    "customer",
    "expand",
    "instructions_email",
    "metadata",
    "origin",
    "payment_intent",
    "reason",
    "refund_application_fee",
    "reverse_transfer",
)
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refund_charge(
    state: EmulatorState,
    charge: Record,
    amount: int | None,
    *,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Record:
    """Refund `amount` (default: the unrefunded remainder) of a succeeded charge."""
    if charge["status"] != "succeeded":
        raise invalid_transition(f"Charge {charge['id']} has not succeeded and cannot be refunded.")
    if charged_back(state, charge["id"]):
        raise StripeError(
            400,
            f"Charge {charge['id']} has been charged back; it cannot be refunded.",
            code="charge_disputed",
        )
    remaining = int(charge["amount"]) - int(charge["amount_refunded"])
    if remaining <= 0:
        raise StripeError(
            400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = remaining if amount is None else amount
    if amount <= 0:
        raise param_invalid(
            "amount", "Refund amount must be positive.", "parameter_invalid_integer"
        )
    if amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    validate_amount_granularity(amount, charge["currency"])
    settled = settled_like_charge(state, charge, amount)
    refund_id = new_id("refund")
    txn = balance_transaction(
        state,
        amount=-settled.amount,
        currency=settled.currency,
        type_="refund",
        category="refund",
        source=refund_id,
        description="REFUND FOR CHARGE",
        exchange_rate=settled.exchange_rate,
    )
    refund: Record = {
        "id": refund_id, "object": "refund", "amount": amount,
        "balance_transaction": txn["id"], "charge": charge["id"],
        "created": state.clock.now(), "currency": charge["currency"],
        "customer": charge["customer"], "customer_account": None, "description": None,
        "destination_details": {"card": {"reference": None, "reference_status": "pending",
                                         "reference_type": "acquirer_reference_number",
                                         "type": "refund"},
                                "type": "card"},
        "failure_balance_transaction": None, "failure_reason": None,
        "instructions_email": None, "metadata": dict(metadata or {}), "next_action": None,
        "payment_intent": charge["payment_intent"], "payment_method": charge["payment_method"],
        "pending_reason": None, "presentment_details": None, "reason": reason,
        "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
        "transfer_reversal": None,
    }  # fmt: skip
    state.store.add("refund", refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    emit(state, "refund.created", refund)
    emit(state, "charge.refunded", charge)
    return refund


@bp.post("")
def create_refund() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(CREATE_PARAMS)
    charge_id, intent_id = params.string("charge"), params.string("payment_intent")
    if (charge_id is None) == (intent_id is None):
        raise param_invalid("charge", "You must provide exactly one of charge or payment_intent.")
    if intent_id is not None:
        intent = state.store.require("payment_intent", intent_id, "payment_intent")
        if intent["latest_charge"] is None:
            raise invalid_transition(f"PaymentIntent {intent_id} has no charge to refund.")
        charge_id = intent["latest_charge"]
    charge = state.store.require("charge", charge_id or "", "charge")
    refund = refund_charge(
        state,
        charge,
        params.integer("amount"),
        reason=params.string("reason", choices=REASONS),
        metadata=params.metadata(),
    )
    return render(state, refund, expand_paths(params))


@bp.get("")
def list_refunds() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "charge", "payment_intent"))
    charge, intent = params.string("charge"), params.string("payment_intent")
    created = range_filter(params, "created")
    records = [
        r
        for r in state.store.all("refund")
        if created(r["created"])
        and (charge is None or r["charge"] == charge)
        and (intent is None or r["payment_intent"] == intent)
    ]
    return paginate(
        state.store,
        "refund",
        records,
        params,
        "/v1/refunds",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<refund_id>")
def retrieve_refund(refund_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    return render(state, state.store.require("refund", refund_id, "refund"), expand_paths(params))


@bp.post("/<refund_id>")
def update_refund(refund_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", "metadata"))
    refund = state.store.require("refund", refund_id, "refund")
    refund["metadata"] = merge_metadata(refund["metadata"], params.metadata())
    return render(state, refund, expand_paths(params))


@bp.post("/<refund_id>/cancel")
def cancel_refund(refund_id: str) -> Record:
    state = get_state()
    refund = state.store.require("refund", refund_id, "refund")
    raise invalid_transition(
        f"Refund {refund['id']} cannot be canceled because it has a status of {refund['status']}. "
        "Only refunds with a status of requires_action can be canceled."
    )
