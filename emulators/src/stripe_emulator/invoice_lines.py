"""Invoice line editing (`add_lines`, `update_lines`, `remove_lines`, line list and update).

Lines can change on drafts only (`invoice_not_editable` otherwise). `add_lines` creates an
invoice item per line (or attaches an existing pending one via `invoice_item`) and its
mirrored line item; every edit recomputes the totals and emits `invoice.updated`.
"""

from __future__ import annotations

import copy

from flask import Blueprint
from flask import g

from . import invoice_model as model
from .errors import param_invalid
from .events import emit
from .events import previous_attributes
from .forms import Params
from .forms import merge_metadata
from .lines import LINE_FIELDS
from .lines import build_item
from .lines import sync_line
from .lines import update_item
from .listing import expand_paths
from .listing import paginate
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("invoice_lines", __name__, url_prefix="/v1/invoices")


def _invoice(state: EmulatorState, invoice_id: str) -> Record:
    return state.store.require("invoice", invoice_id, "invoice")


def _action(invoice_id: str, allowed: tuple[str, ...]) -> tuple[EmulatorState, Params, Record]:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", *allowed))
    return state, params, _invoice(state, invoice_id)


def _edit_lines(invoice_id: str) -> tuple[EmulatorState, Params, Record, Record]:
    state, params, invoice = _action(invoice_id, ("invoice_metadata", "lines"))
    model.require_draft(invoice)
    return state, params, invoice, copy.deepcopy(invoice)


def _finish_edit(state: EmulatorState, params: Params, invoice: Record, before: Record) -> Record:
    invoice["metadata"] = merge_metadata(invoice["metadata"], params.metadata("invoice_metadata"))
    model.recompute(state, invoice)
    emit(state, "invoice.updated", invoice, previous_attributes(before, invoice))
    return render(state, invoice, expand_paths(params))


@bp.post("/<invoice_id>/add_lines")
def add_lines(invoice_id: str) -> Record:
    state, params, invoice, before = _edit_lines(invoice_id)
    for line_params in params.objects("lines", required=True):
        line_params.check_known(LINE_FIELDS)
        existing = line_params.string("invoice_item")
        if existing:
            item = state.store.require("invoiceitem", existing, line_params.name("invoice_item"))
            item["invoice"] = invoice["id"]
        else:
            item = build_item(
                state,
                line_params,
                customer=invoice["customer"],
                currency=invoice["currency"],
                invoice=invoice["id"],
            )
            emit(state, "invoiceitem.created", item)
        invoice["_line_ids"].append(sync_line(state, item)["id"])
    return _finish_edit(state, params, invoice, before)


def _line_item(state: EmulatorState, invoice: Record, line_params: Params) -> Record:
    line_id = line_params.string("id", required=True) or ""
    if line_id not in invoice["_line_ids"]:
        raise param_invalid(
            line_params.name("id"), f"No such invoice line item: '{line_id}'", "resource_missing"
        )
    line = state.store.require("line_item", line_id, line_params.name("id"))
    return state.store.require("invoiceitem", line["_item"])


@bp.post("/<invoice_id>/update_lines")
def update_lines(invoice_id: str) -> Record:
    state, params, invoice, before = _edit_lines(invoice_id)
    for line_params in params.objects("lines", required=True):
        line_params.check_known((*LINE_FIELDS, "id"))
        item = _line_item(state, invoice, line_params)
        update_item(
            state,
            item,
            Params({k: v for k, v in line_params.data.items() if k != "id"}, line_params.prefix),
        )
        sync_line(state, item)
    return _finish_edit(state, params, invoice, before)


@bp.post("/<invoice_id>/remove_lines")
def remove_lines(invoice_id: str) -> Record:
    state, params, invoice, before = _edit_lines(invoice_id)
    for line_params in params.objects("lines", required=True):
        line_params.check_known(("id", "behavior"))
        behavior = line_params.string("behavior", required=True, choices=("delete", "unassign"))
        item = _line_item(state, invoice, line_params)
        invoice["_line_ids"].remove(item["_line"])
        state.store.remove("line_item", item["_line"])
        item.update(invoice=None, _line=None)
        if behavior == "delete":
            item["deleted"] = True
            emit(state, "invoiceitem.deleted", item)
    return _finish_edit(state, params, invoice, before)


@bp.get("/<invoice_id>/lines")
def list_lines(invoice_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("limit", "starting_after", "ending_before", "expand"))
    invoice = _invoice(state, invoice_id)
    lines = [state.store.get("line_item", i) for i in invoice["_line_ids"]]
    records = [line for line in lines if line is not None]
    return paginate(
        state.store,
        "line_item",
        records,
        params,
        f"/v1/invoices/{invoice_id}/lines",
        render_many(state, expand_paths(params)),
    )


@bp.post("/<invoice_id>/lines/<line_id>")
def update_line(invoice_id: str, line_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*LINE_FIELDS, "expand"))
    invoice = _invoice(state, invoice_id)
    model.require_draft(invoice)
    before = copy.deepcopy(invoice)
    item = _line_item(state, invoice, Params({"id": line_id}))
    update_item(state, item, params)
    line = sync_line(state, item)
    model.recompute(state, invoice)
    emit(state, "invoice.updated", invoice, previous_attributes(before, invoice))
    return render(state, line, expand_paths(params))
