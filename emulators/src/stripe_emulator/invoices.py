"""Invoice routes (`/v1/invoices...`): thin views over `invoice_model`, `lines` and
`invoice_payments`.

Accepted parameters mirror stripe-python 16.1.0's `Invoice*Params`; parameters the emulator
does not model are accepted and ignored, unknown ones are `parameter_unknown`. Line editing
(`add_lines`, `update_lines`, `remove_lines`, line update) works on drafts only.
"""

from __future__ import annotations

import copy

from flask import Blueprint
from flask import g

from . import invoice_model as model
from .currency import validate_currency
from .errors import param_invalid
from .events import emit
from .events import previous_attributes
from .forms import Params
from .forms import merge_metadata
from .invoice_payments import attach_intent
from .invoice_payments import pay_by_card
from .invoice_payments import pay_out_of_band
from .lines import sync_line
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .listing import search_page
from .payment_records import attach_record
from .render import render
from .render import render_many
from .search_query import matches
from .search_query import parse
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("invoices", __name__, url_prefix="/v1/invoices")

_CREATE_PARAMS_NAMES = """
account_tax_ids application_fee_amount auto_advance automatic_tax
automatically_finalizes_at collection_method currency custom_fields customer
customer_account days_until_due default_payment_method default_source default_tax_rates
description discounts due_date effective_at expand footer from_invoice issuer metadata
number on_behalf_of payment_settings pending_invoice_items_behavior rendering
shipping_cost shipping_details statement_descriptor subscription transfer_data
"""
CREATE_PARAMS = _CREATE_PARAMS_NAMES.split()
UPDATE_PARAMS = [
    p
    for p in CREATE_PARAMS
    if p
    not in (
        "currency",
        "customer",
        "customer_account",
        "from_invoice",
        "pending_invoice_items_behavior",
        "subscription",
    )
]
MUTABLE_AFTER_FINALIZE = {"metadata", "description", "footer", "auto_advance", "expand"}
SEARCH_FIELDS = {
    "created": "number", "currency": "string", "customer": "string", "metadata": "metadata",
    "number": "string", "receipt_number": "string", "status": "string",
    "subscription": "string", "total": "number",
}  # fmt: skip


def _invoice(state: EmulatorState, invoice_id: str) -> Record:
    return state.store.require("invoice", invoice_id, "invoice")


def _apply_settings(invoice: Record, params: Params) -> None:
    method = params.string("collection_method", choices=("charge_automatically", "send_invoice"))
    if method is not None:
        invoice["collection_method"] = method
    days = params.integer("days_until_due", minimum=0)
    due = params.integer("due_date")
    if (days is not None or due is not None) and invoice["collection_method"] != "send_invoice":
        param = "days_until_due" if days is not None else "due_date"
        raise param_invalid(param, f"{param} can only be set when collection_method=send_invoice.")
    if days is not None:
        invoice["_days_until_due"] = days
        invoice["due_date"] = invoice["created"] + days * 86400
    if due is not None:
        invoice["due_date"], invoice["_days_until_due"] = due, None
    auto = params.boolean("auto_advance")
    if auto is not None:
        invoice["auto_advance"] = auto
    for key in ("description", "footer", "statement_descriptor", "number"):
        if key in params:
            invoice[key] = params.text(key)
    invoice["metadata"] = merge_metadata(invoice["metadata"], params.metadata())


@bp.post("")
def create_invoice() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(CREATE_PARAMS)
    customer = state.store.require(
        "customer", params.string("customer", required=True) or "", "customer"
    )
    raw_currency = (
        params.string("currency") or customer["currency"] or state.config.default_currency
    )
    currency = validate_currency(raw_currency)
    invoice = model.new_invoice(state, customer, currency, {})
    _apply_settings(invoice, params)
    if invoice["collection_method"] == "send_invoice" and invoice["due_date"] is None:
        raise param_invalid(
            "days_until_due", "Missing required param: days_until_due.", "parameter_missing"
        )
    state.store.add("invoice", invoice)
    behavior = params.string("pending_invoice_items_behavior", choices=("exclude", "include"))
    if behavior == "include":
        for item in state.store.all("invoiceitem", newest_first=False):
            if (
                item["customer"] == customer["id"]
                and item["invoice"] is None
                and not item.get("deleted")
                and item["currency"] == currency
            ):
                item["invoice"] = invoice["id"]
                invoice["_line_ids"].append(sync_line(state, item)["id"])
    model.recompute(state, invoice)
    emit(state, "invoice.created", invoice)
    return render(state, invoice, expand_paths(params))


@bp.get("")
def list_invoices() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(
        (
            *common_list_params(),
            "collection_method",
            "customer",
            "customer_account",
            "due_date",
            "status",
            "subscription",
        )
    )
    customer = params.string("customer")
    status = params.string("status", choices=("draft", "open", "paid", "uncollectible", "void"))
    method = params.string("collection_method")
    created, due = range_filter(params, "created"), range_filter(params, "due_date")
    records = [
        i
        for i in state.store.all("invoice")
        if not i.get("deleted")
        and created(i["created"])
        and (customer is None or i["customer"] == customer)
        and (status is None or i["status"] == status)
        and (method is None or i["collection_method"] == method)
        and ("due_date" not in params or due(i["due_date"]))
    ]
    return paginate(
        state.store,
        "invoice",
        records,
        params,
        "/v1/invoices",
        render_many(state, expand_paths(params)),
    )


@bp.get("/search")
def search_invoices() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("query", "limit", "page", "expand"))
    query = parse(params.string("query", required=True) or "", SEARCH_FIELDS)
    found = [
        cur
        for snap, cur in state.store.searchable("invoice")
        if matches(query, snap, SEARCH_FIELDS)
    ]
    return search_page(
        found, params, "/v1/invoices/search", render_many(state, expand_paths(params))
    )


@bp.get("/<invoice_id>")
def retrieve_invoice(invoice_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    return render(state, _invoice(state, invoice_id), expand_paths(params))


@bp.post("/<invoice_id>")
def update_invoice(invoice_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(UPDATE_PARAMS)
    invoice = _invoice(state, invoice_id)
    if invoice["status"] != "draft" and any(k not in MUTABLE_AFTER_FINALIZE for k in params.data):
        model.require_draft(invoice)
    before = copy.deepcopy(invoice)
    _apply_settings(invoice, params)
    state.store.touch("invoice", invoice)
    changed = previous_attributes(before, invoice)
    if changed:
        emit(state, "invoice.updated", invoice, changed)
    return render(state, invoice, expand_paths(params))


@bp.delete("/<invoice_id>")
def delete_invoice(invoice_id: str) -> Record:
    state = get_state()
    invoice = _invoice(state, invoice_id)
    model.require_draft(invoice)
    emit(state, "invoice.deleted", invoice)
    invoice["deleted"] = True
    state.store.touch("invoice", invoice)
    return {"id": invoice_id, "object": "invoice", "deleted": True}


def _action(invoice_id: str, allowed: tuple[str, ...]) -> tuple[EmulatorState, Params, Record]:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", *allowed))
    return state, params, _invoice(state, invoice_id)


@bp.post("/<invoice_id>/finalize")
def finalize_invoice(invoice_id: str) -> Record:
    state, params, invoice = _action(invoice_id, ("auto_advance",))
    auto = params.boolean("auto_advance")
    model.finalize(state, invoice)
    if auto is not None:
        invoice["auto_advance"] = auto
    return render(state, invoice, expand_paths(params))


@bp.post("/<invoice_id>/pay")
def pay_invoice(invoice_id: str) -> Record:
    state, params, invoice = _action(
        invoice_id,
        ("forgive", "mandate", "off_session", "paid_out_of_band", "payment_method", "source"),
    )
    if params.boolean("paid_out_of_band"):
        pay_out_of_band(state, invoice)
    else:
        customer = state.store.require("customer", invoice["customer"], "customer")
        method = (
            params.string("payment_method")
            or params.string("source")
            or (
                invoice["default_payment_method"]
                or customer["invoice_settings"]["default_payment_method"]
            )
        )
        if not method:
            raise param_invalid(
                "payment_method",
                "This customer has no attached payment source or default payment method. "
                "Please consider adding a default payment method.",
            )
        pay_by_card(state, invoice, None, method)
    return render(state, invoice, expand_paths(params))


@bp.post("/<invoice_id>/send")
def send_invoice(invoice_id: str) -> Record:
    state, params, invoice = _action(invoice_id, ())
    model.send(state, invoice)
    return render(state, invoice, expand_paths(params))


@bp.post("/<invoice_id>/void")
def void_invoice(invoice_id: str) -> Record:
    state, params, invoice = _action(invoice_id, ())
    model.void(state, invoice)
    return render(state, invoice, expand_paths(params))


@bp.post("/<invoice_id>/mark_uncollectible")
def mark_uncollectible(invoice_id: str) -> Record:
    state, params, invoice = _action(invoice_id, ())
    model.mark_uncollectible(state, invoice)
    return render(state, invoice, expand_paths(params))


@bp.post("/<invoice_id>/attach_payment")
def attach_payment(invoice_id: str) -> Record:
    """A succeeded PaymentIntent or a guaranteed PaymentRecord (paid outside Stripe)."""
    state, params, invoice = _action(invoice_id, ("payment_intent", "payment_record"))
    intent_id, record_id = params.string("payment_intent"), params.string("payment_record")
    if (intent_id is None) == (record_id is None):
        raise param_invalid(
            "payment_intent", "You must provide exactly one of payment_intent or payment_record."
        )
    if record_id is not None:
        attach_record(
            state, invoice, state.store.require("payment_record", record_id, "payment_record")
        )
    else:
        attach_intent(
            state, invoice, state.store.require("payment_intent", intent_id or "", "payment_intent")
        )
    return render(state, invoice, expand_paths(params))


@bp.get("/<invoice_id>/payments")
def list_invoice_payments(invoice_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("limit", "starting_after", "ending_before", "expand"))
    _invoice(state, invoice_id)
    records = [p for p in state.store.all("invoice_payment") if p["invoice"] == invoice_id]
    return paginate(
        state.store,
        "invoice_payment",
        records,
        params,
        f"/v1/invoices/{invoice_id}/payments",
        render_many(state, expand_paths(params)),
    )
