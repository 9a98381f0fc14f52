"""Routes for PaymentIntents, Charges and InvoicePayments.

PaymentIntents can be created, confirmed (`pm_card_visa` succeeds, see `charges`), canceled,
retrieved, updated and listed; charges are read-only apart from metadata/description
updates; InvoicePayments list by `invoice`, `status` and `payment[payment_intent]`, which is
the reverse lookup from a charge to its invoice (stripe-api.md §5). An update's metadata is
checked and merged by `charges.updated_metadata` before anything changes, so a refused update
leaves the object as it was; a changed charge is announced as `charge.updated` (a
PaymentIntent update by nothing: Stripe has no such event, see `charges`).
"""

from __future__ import annotations

import copy

from flask import Blueprint
from flask import g

from .charges import announce_charge_update
from .charges import cancel_intent
from .charges import confirm_intent
from .charges import create_intent
from .charges import updated_metadata
from .currency import validate_charge_amount
from .currency import validate_currency
from .disputes import dispute_if_test_card
from .errors import invalid_transition
from .forms import Params
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import get_state
from .store import Record

bp = Blueprint("payments", __name__)

_INTENT_CREATE_NAMES = """
allowed_payment_method_types amount amount_details application_fee_amount
automatic_payment_methods capture_method confirm confirmation_method confirmation_token
currency customer customer_account description error_on_requires_action
excluded_payment_method_types expand hooks mandate mandate_data metadata off_session
on_behalf_of payment_details payment_method payment_method_configuration
payment_method_data payment_method_options radar_options receipt_email return_url
setup_future_usage shipping statement_descriptor statement_descriptor_suffix transfer_data
transfer_group use_stripe_sdk
"""
INTENT_CREATE = _INTENT_CREATE_NAMES.split()
_INTENT_CONFIRM_NAMES = """
allowed_payment_method_types amount_details amount_to_confirm capture_method
confirmation_token error_on_requires_action excluded_payment_method_types expand hooks
mandate mandate_data off_session payment_details payment_method payment_method_data
payment_method_options radar_options receipt_email return_url setup_future_usage shipping
use_stripe_sdk
"""
INTENT_CONFIRM = _INTENT_CONFIRM_NAMES.split()


@bp.post("/v1/payment_intents")
def create_payment_intent() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(INTENT_CREATE)
    amount = params.integer("amount", required=True, minimum=1) or 0
    currency = validate_currency(params.string("currency", required=True) or "")
    validate_charge_amount(amount, currency)
    customer = params.string("customer")
    if customer is not None:
        state.store.require("customer", customer, "customer")
    intent = create_intent(
        state,
        amount=amount,
        currency=currency,
        customer=customer,
        description=params.text("description"),
        metadata=params.metadata() or {},
    )
    # Stripe e-mails the receipt there and copies it onto the charge (Charge.receipt_email).
    intent["receipt_email"] = params.string("receipt_email")
    method = params.string("payment_method")
    if method:
        intent["payment_method"] = method
        intent["status"] = "requires_confirmation"
    if params.boolean("confirm"):
        dispute_if_test_card(state, confirm_intent(state, intent, method or ""))
    return render(state, intent, expand_paths(params))


@bp.post("/v1/payment_intents/<intent_id>/confirm")
def confirm_payment_intent(intent_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(INTENT_CONFIRM)
    intent = state.store.require("payment_intent", intent_id, "intent")
    if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise invalid_transition(
            f"This PaymentIntent's status is {intent['status']}; it cannot be confirmed.",
        )
    method = params.string("payment_method") or intent["payment_method"]
    if not method:
        raise invalid_transition(
            "You cannot confirm this PaymentIntent because it's missing a payment method."
        )
    dispute_if_test_card(state, confirm_intent(state, intent, method))
    return render(state, intent, expand_paths(params))


@bp.post("/v1/payment_intents/<intent_id>/cancel")
def cancel_payment_intent(intent_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("cancellation_reason", "expand"))
    intent = state.store.require("payment_intent", intent_id, "intent")
    if intent["status"] in ("succeeded", "canceled"):
        raise invalid_transition(
            f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}."
        )
    cancel_intent(state, intent, params.string("cancellation_reason") or "requested_by_customer")
    return render(state, intent, expand_paths(params))


@bp.get("/v1/payment_intents/<intent_id>")
def retrieve_payment_intent(intent_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", "client_secret"))
    intent = state.store.require("payment_intent", intent_id, "intent")
    return render(state, intent, expand_paths(params))


@bp.post("/v1/payment_intents/<intent_id>")
def update_payment_intent(intent_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("description", "metadata", "expand", "receipt_email"))
    intent = state.store.require("payment_intent", intent_id, "intent")
    metadata = updated_metadata(params, intent["metadata"])
    if "description" in params:
        intent["description"] = params.text("description")
    intent["metadata"] = metadata
    return render(state, intent, expand_paths(params))


@bp.get("/v1/payment_intents")
def list_payment_intents() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "customer", "customer_account"))
    customer, created = params.string("customer"), range_filter(params, "created")
    records = [
        r
        for r in state.store.all("payment_intent")
        if created(r["created"]) and (customer is None or r["customer"] == customer)
    ]
    return paginate(
        state.store,
        "payment_intent",
        records,
        params,
        "/v1/payment_intents",
        render_many(state, expand_paths(params)),
    )


@bp.get("/v1/charges/<charge_id>")
def retrieve_charge(charge_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    return render(state, state.store.require("charge", charge_id, "charge"), expand_paths(params))


@bp.post("/v1/charges/<charge_id>")
def update_charge(charge_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(
        (
            "customer",
            "description",
            "expand",
            "fraud_details",
            "metadata",
            "receipt_email",
            "shipping",
            "transfer_group",
        )
    )
    charge = state.store.require("charge", charge_id, "charge")
    metadata = updated_metadata(params, charge["metadata"])
    before = copy.deepcopy(charge)
    if "description" in params:
        charge["description"] = params.text("description")
    charge["metadata"] = metadata
    announce_charge_update(state, charge, before)
    return render(state, charge, expand_paths(params))


@bp.get("/v1/charges")
def list_charges() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "customer", "payment_intent", "transfer_group"))
    customer, intent = params.string("customer"), params.string("payment_intent")
    created = range_filter(params, "created")
    records = [
        r
        for r in state.store.all("charge")
        if created(r["created"])
        and (customer is None or r["customer"] == customer)
        and (intent is None or r["payment_intent"] == intent)
    ]
    return paginate(
        state.store,
        "charge",
        records,
        params,
        "/v1/charges",
        render_many(state, expand_paths(params)),
    )


@bp.get("/v1/charges/<charge_id>/refunds")
def list_charge_refunds(charge_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("limit", "starting_after", "ending_before", "expand"))
    state.store.require("charge", charge_id, "charge")
    records = [r for r in state.store.all("refund") if r["charge"] == charge_id]
    return paginate(
        state.store,
        "refund",
        records,
        params,
        f"/v1/charges/{charge_id}/refunds",
        render_many(state, expand_paths(params)),
    )


@bp.get("/v1/invoice_payments")
def list_invoice_payments() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "invoice", "payment", "status"))
    invoice = params.string("invoice")
    status = params.string("status", choices=("open", "paid", "canceled"))
    payment = params.sub("payment")
    kind = wanted = None
    if payment is not None:
        payment.check_known(("type", "payment_intent", "payment_record"))
        kind = payment.string("type", required=True, choices=("payment_intent", "payment_record"))
        wanted = payment.string(kind or "")
    created = range_filter(params, "created")

    def paid_with(record: Record) -> bool:
        """`payment[type]` (+ the id of that type, when given) matches the payment."""
        made = record["payment"]
        return kind is None or (made["type"] == kind and wanted in (None, made.get(kind)))

    records = [
        r
        for r in state.store.all("invoice_payment")
        if created(r["created"])
        and (invoice is None or r["invoice"] == invoice)
        and (status is None or r["status"] == status)
        and paid_with(r)
    ]
    return paginate(
        state.store,
        "invoice_payment",
        records,
        params,
        "/v1/invoice_payments",
        render_many(state, expand_paths(params)),
    )


@bp.get("/v1/invoice_payments/<payment_id>")
def retrieve_invoice_payment(payment_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    payment = state.store.require("invoice_payment", payment_id, "invoice_payment")
    return render(state, payment, expand_paths(params))
