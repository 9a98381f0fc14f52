"""Customers: create, retrieve, update, delete, list (by exact, case-sensitive email), search.

Metadata updates merge (stripe-api.md §4); every update that changes a field emits
`customer.updated` with `previous_attributes` (an e-mail change included) and refreshes the
customer snapshot on the customer's draft invoices. Search reads the delayed index kept by
the store, so a customer created or changed less than `search_index_delay` seconds ago
(emulator clock) is not found yet, or is found with its old values: Stripe's eventual
consistency. Each customer gets an `invoice_prefix` and `next_invoice_sequence` used to
number its invoices.
"""

from __future__ import annotations

import copy
import re

from flask import Blueprint
from flask import g

from .errors import param_invalid
from .events import emit
from .events import previous_attributes
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .ids import random_token
from .invoice_model import copy_customer_fields
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .listing import search_page
from .render import render
from .render import render_many
from .search_query import matches
from .search_query import parse
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("customers", __name__, url_prefix="/v1/customers")

SEARCH_FIELDS = {
    "created": "number",
    "email": "string",
    "metadata": "metadata",
    "name": "string",
    "phone": "string",
}
_SIMPLE_FIELDS = ("name", "email", "phone", "description", "business_name", "individual_name")
_ACCEPTED = (
    *_SIMPLE_FIELDS,
    "address",
    "balance",
    "metadata",
    "invoice_prefix",
    "invoice_settings",
    "next_invoice_sequence",
    "preferred_locales",
    "shipping",
    "tax",
    "tax_exempt",
    "tax_id_data",
    "payment_method",
    "source",
    "test_clock",
    "cash_balance",
    "expand",
    "customer_account",
)
_UPDATE_ONLY = ("default_source",)


def _apply(customer: Record, params: Params) -> None:
    for key in _SIMPLE_FIELDS:
        if key in params:
            customer[key] = params.text(key)
    email = customer.get("email")
    if email is not None and len(email) > 512:
        raise param_invalid("email", "Invalid email address: too long", "email_invalid")
    balance = params.integer("balance")
    if balance is not None:
        customer["balance"] = balance
    prefix = params.text("invoice_prefix")
    if prefix is not None:
        if not re.fullmatch(r"[A-Z0-9]{1,12}", prefix):
            raise param_invalid(
                "invoice_prefix", "Invalid invoice_prefix: 1-12 uppercase letters or digits"
            )
        customer["invoice_prefix"] = prefix
    sequence = params.integer("next_invoice_sequence", minimum=1)
    if sequence is not None:
        customer["next_invoice_sequence"] = sequence
    exempt = params.string("tax_exempt", choices=("none", "exempt", "reverse"))
    if exempt is not None:
        customer["tax_exempt"] = exempt
    address = params.sub("address")
    if address is not None:
        customer["address"] = _address(address)
    locales = params.strings("preferred_locales")
    if "preferred_locales" in params:
        customer["preferred_locales"] = locales
    settings = params.sub("invoice_settings")
    if settings is not None:
        current = customer["invoice_settings"]
        for key in ("default_payment_method", "footer"):
            if key in settings:
                current[key] = settings.text(key)
    customer["metadata"] = merge_metadata(customer["metadata"], params.metadata())


def _address(params: Params) -> Record:
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    params.check_known(keys)
    return {key: params.text(key) for key in keys}


def new_customer(state: EmulatorState) -> Record:
    return {
        "id": new_id("customer"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": state.clock.now(),
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "individual_name": None,
        "invoice_credit_balance": {},
        "invoice_prefix": random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


@bp.post("")
def create_customer() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(_ACCEPTED)
    customer = new_customer(state)
    _apply(customer, params)
    state.store.add("customer", customer)
    emit(state, "customer.created", customer)
    return render(state, customer, expand_paths(params))


@bp.get("")
def list_customers() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "email", "test_clock"))
    email = params.string("email")
    created = range_filter(params, "created")
    records = [
        c
        for c in state.store.all("customer")
        if not c.get("deleted") and (email is None or c["email"] == email) and created(c["created"])
    ]
    return paginate(
        state.store,
        "customer",
        records,
        params,
        "/v1/customers",
        render_many(state, expand_paths(params)),
    )


@bp.get("/search")
def search_customers() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("query", "limit", "page", "expand"))
    query = parse(params.string("query", required=True) or "", SEARCH_FIELDS)
    found = [
        cur
        for snap, cur in state.store.searchable("customer")
        if matches(query, snap, SEARCH_FIELDS)
    ]
    return search_page(
        found, params, "/v1/customers/search", render_many(state, expand_paths(params))
    )


@bp.get("/<customer_id>")
def retrieve_customer(customer_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    customer = state.store.get("customer", customer_id)
    if customer is not None and customer.get("deleted"):
        return {"id": customer_id, "object": "customer", "deleted": True}
    customer = state.store.require("customer", customer_id, "id")
    return render(state, customer, expand_paths(params))


@bp.post("/<customer_id>")
def update_customer(customer_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*_ACCEPTED, *_UPDATE_ONLY))
    customer = state.store.require("customer", customer_id, "id")
    before = copy.deepcopy(customer)
    _apply(customer, params)
    state.store.touch("customer", customer)
    _refresh_drafts(state, customer)
    changed = previous_attributes(before, customer)
    if changed:
        emit(state, "customer.updated", customer, changed)
    return render(state, customer, expand_paths(params))


def _refresh_drafts(state: EmulatorState, customer: Record) -> None:
    """Drafts show the customer as it is now: `customer_email` and the other snapshot fields
    "will equal customer.email" until finalization (Invoice docstrings, stripe-python
    16.1.0 `_invoice.py`); finalized invoices keep theirs."""
    for invoice in state.store.all("invoice"):
        if invoice["customer"] == customer["id"] and invoice["status"] == "draft":
            copy_customer_fields(invoice, customer)
            state.store.touch("invoice", invoice)


@bp.delete("/<customer_id>")
def delete_customer(customer_id: str) -> Record:
    state = get_state()
    customer = state.store.require("customer", customer_id, "id")
    emit(state, "customer.deleted", customer)
    customer["deleted"] = True
    state.store.touch("customer", customer)
    return {"id": customer_id, "object": "customer", "deleted": True}
