"""Payment Records: payments made outside Stripe, and the only way to pay an invoice partly
out of band at `2026-10-28.endive`.

`Invoice.pay` has no `amount` (stripe-python 16.1.0 `_invoice_pay_params.py`):
`paid_out_of_band=true` settles the whole remainder. A part paid elsewhere is reported as a
PaymentRecord (`POST /v1/payment_records/report_payment`, `_payment_record_report_payment_
params.py`) and attached with `POST /v1/invoices/{id}/attach_payment` `payment_record=...`
("Attaches a PaymentIntent or an Out of Band Payment to the invoice", `InvoiceService.
attach_payment` docstring; docs.stripe.com/changelog/clover/2025-10-29/invoicing-payment-
records). Such payments make up the invoice's `amount_paid_off_stripe` ("supports both full
and partial out-of-band payments and is dynamically computed from Payment Record data",
docs.stripe.com/changelog/dahlia/2026-05-27/invoice-object-amount-paid-off-stripe-property).

Modelled: `report_payment` with `outcome` `guaranteed` | `failed` | `canceled` or none (still
pending), `GET /v1/payment_records/{id}`, `GET /v1/payment_records`. Only a guaranteed record
in the invoice currency can be attached (the emulator's reading: the docs describe attaching
completed payments); it becomes an InvoicePayment `payment{type: payment_record}` for
min(guaranteed amount, amount remaining). Payment attempt records, `report_payment_attempt*`
and `report_refund` are not modelled.
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .currency import validate_currency
from .errors import StripeError
from .errors import param_invalid
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .invoice_payments import new_invoice_payment
from .invoice_payments import require_collectable
from .invoice_payments import settle
from .invoice_payments import sync_default_payment
from .listing import expand_paths
from .listing import paginate
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("payment_records", __name__, url_prefix="/v1/payment_records")

REPORT_PARAMS = (
    "amount_requested", "canceled", "customer_details", "customer_presence", "description",
    "expand", "failed", "guaranteed", "initiated_at", "metadata", "outcome",
    "payment_method_details", "processor_details", "shipping_details",
)  # fmt: skip
OUTCOMES = ("canceled", "failed", "guaranteed")
_ADDRESS = ("city", "country", "line1", "line2", "postal_code", "state")


def _money(currency: str, value: int) -> Record:
    return {"currency": currency, "value": value}


def _address(params: Params | None) -> Record | None:
    if params is None:
        return None
    params.check_known(_ADDRESS)
    return {key: params.text(key) for key in _ADDRESS}


def _contact(params: Params | None, extra: tuple[str, ...]) -> Record | None:
    """`customer_details`, `billing_details`, `shipping_details`: a few texts and an address."""
    if params is None:
        return None
    params.check_known(("address", "email", "name", "phone", *extra))
    out: Record = {key: params.text(key) for key in ("email", "name", "phone", *extra)}
    if "address" in params:
        out["address"] = _address(params.sub("address"))
    return out


def _payment_method_details(params: Params) -> Record:
    params.check_known(("billing_details", "custom", "payment_method", "type"))
    kind = params.string("type", choices=("custom",))
    method = params.string("payment_method")
    if kind is None and method is None:
        raise param_invalid(
            params.name("type"),
            "You must provide either payment_method_details[type] or "
            "payment_method_details[payment_method].",
        )
    custom = params.sub("custom")
    if custom is not None:
        custom.check_known(("display_name", "type"))
    billing = _contact(params.sub("billing_details"), ())
    return {
        "billing_details": billing,
        "custom": None
        if custom is None
        else {"display_name": custom.text("display_name"), "type": custom.text("type")},
        "payment_method": method,
        "type": kind or "custom",
    }


def _processor_details(params: Params | None) -> Record:
    if params is None:
        return {"custom": None, "type": "custom"}
    params.check_known(("custom", "type"))
    params.string("type", required=True, choices=("custom",))
    custom = params.sub("custom")
    reference = None
    if custom is not None:
        custom.check_known(("payment_reference",))
        reference = custom.string("payment_reference", required=True)
    return {
        "custom": None if custom is None else {"payment_reference": reference},
        "type": "custom",
    }


def _outcome_time(params: Params, outcome: str | None) -> None:
    """`guaranteed[guaranteed_at]` etc. are required with their outcome and only with it."""
    for name in OUTCOMES:
        field = params.sub(name, required=outcome == name)
        if field is None:
            continue
        if outcome != name:
            raise param_invalid(name, f"{name} can only be provided when outcome={name}.")
        field.check_known((f"{name}_at",))
        field.integer(f"{name}_at", required=True)


def report_payment(state: EmulatorState, params: Params) -> Record:
    """A new PaymentRecord from `report_payment` parameters."""
    params.check_known(REPORT_PARAMS)
    requested = params.sub("amount_requested", required=True)
    assert requested is not None
    requested.check_known(("currency", "value"))
    currency = validate_currency(
        requested.string("currency", required=True) or "", requested.name("currency")
    )
    value = requested.integer("value", required=True, minimum=1) or 0
    params.integer("initiated_at", required=True)
    outcome = params.string("outcome", choices=OUTCOMES)
    _outcome_time(params, outcome)
    details = params.sub("payment_method_details", required=True)
    assert details is not None
    customer = _contact(params.sub("customer_details"), ("customer",))
    if customer is not None and customer["customer"]:
        state.store.require("customer", customer["customer"], "customer_details[customer]")
    zero = _money(currency, 0)

    def amount_if(wanted: str) -> Record:
        return _money(currency, value) if outcome == wanted else dict(zero)

    record: Record = {
        "id": new_id("payment_record"), "object": "payment_record",
        "amount": _money(currency, value),
        "amount_authorized": amount_if("guaranteed"),
        "amount_canceled": amount_if("canceled"), "amount_failed": amount_if("failed"),
        "amount_guaranteed": amount_if("guaranteed"), "amount_refunded": dict(zero),
        "amount_requested": _money(currency, value), "application": None,
        "created": state.clock.now(), "customer_details": customer,
        "customer_presence": params.string(
            "customer_presence", choices=("off_session", "on_session")
        ),
        "description": params.text("description"),
        "latest_payment_attempt_record": new_id("payment_attempt_record"), "livemode": False,
        "metadata": merge_metadata({}, params.metadata()),
        "payment_method_details": _payment_method_details(details),
        "processor_details": _processor_details(params.sub("processor_details")),
        "reported_by": "self",
        "shipping_details": _contact(params.sub("shipping_details"), ()),
        "_outcome": outcome,
    }  # fmt: skip
    return state.store.add("payment_record", record)


def attach_record(state: EmulatorState, invoice: Record, record: Record) -> Record:
    """`attach_payment(payment_record=...)`: a guaranteed off-Stripe payment pays the invoice."""
    require_collectable(invoice)
    guaranteed = record["amount_guaranteed"]
    if record["_outcome"] != "guaranteed" or guaranteed["currency"] != invoice["currency"]:
        raise StripeError(
            400,
            "Only guaranteed payment records in the invoice currency can be attached "
            "by the emulator.",
            param="payment_record",
        )
    for existing in state.store.all("invoice_payment"):
        if existing["payment"].get("payment_record") == record["id"]:
            raise StripeError(
                400,
                "This payment record is already attached to an invoice.",
                code="resource_already_exists",
                param="payment_record",
            )
    amount = min(int(guaranteed["value"]), int(invoice["amount_remaining"]))
    payment = new_invoice_payment(state, invoice, record, amount=amount, is_default=False)
    invoice["_amount_paid_off_stripe"] += amount
    settle(state, invoice, payment, amount)
    sync_default_payment(state, invoice)
    return payment


@bp.post("/report_payment")
def report_payment_route() -> Record:
    state, params = get_state(), Params(g.params)
    return render(state, report_payment(state, params), expand_paths(params))


@bp.get("/<record_id>")
def retrieve_payment_record(record_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    record = state.store.require("payment_record", record_id, "id")
    return render(state, record, expand_paths(params))


@bp.get("")
def list_payment_records() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(
        ("created_after", "created_before", "ending_before", "expand", "limit", "starting_after")
    )
    after, before = params.integer("created_after"), params.integer("created_before")
    records = [
        r
        for r in state.store.all("payment_record")
        if (after is None or r["created"] > after) and (before is None or r["created"] < before)
    ]
    return paginate(
        state.store,
        "payment_record",
        records,
        params,
        "/v1/payment_records",
        render_many(state, expand_paths(params)),
    )
