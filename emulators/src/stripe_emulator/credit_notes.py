"""Credit note routes (`/v1/credit_notes...`), thin views over `credit_note_model`.

The paths and verbs are those of stripe-python 16.1.0 `_credit_note_service.py`,
`_credit_note_line_item_service.py` and `_credit_note_preview_lines_service.py`: create,
list (`invoice`, `customer`, `customer_account`, `created`), retrieve, update (`memo`,
`metadata`: `credit_note.updated`), `POST .../void`, `GET .../lines`, `GET .../preview` and
`GET .../preview/lines` (previews validate exactly like create and change nothing).
"""

from __future__ import annotations

import copy

from flask import Blueprint
from flask import g

from . import credit_note_model as model
from .events import emit
from .events import previous_attributes
from .forms import Params
from .forms import merge_metadata
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import get_state
from .store import Record

bp = Blueprint("credit_notes", __name__, url_prefix="/v1/credit_notes")

_PAGING = ("limit", "starting_after", "ending_before")


@bp.post("")
def create_credit_note() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(model.CREATE_PARAMS)
    note = model.issue(state, model.plan_credit_note(state, params))
    return render(state, note, expand_paths(params))


@bp.get("/preview")
def preview_credit_note() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(model.CREATE_PARAMS)
    note = model.preview(state, model.plan_credit_note(state, params))
    return render(state, note, expand_paths(params))


@bp.get("/preview/lines")
def preview_credit_note_lines() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*model.CREATE_PARAMS, *_PAGING))
    plan = model.plan_credit_note(state, params)
    return paginate(
        state.store,
        "credit_note_line_item",
        plan.lines,
        params,
        "/v1/credit_notes/preview/lines",
        render_many(state, expand_paths(params)),
    )


@bp.get("")
def list_credit_notes() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "customer", "customer_account", "invoice"))
    invoice, customer = params.string("invoice"), params.string("customer")
    params.string("customer_account")
    created = range_filter(params, "created")
    records = [
        n
        for n in state.store.all("credit_note")
        if created(n["created"])
        and (invoice is None or n["invoice"] == invoice)
        and (customer is None or n["customer"] == customer)
    ]
    return paginate(
        state.store,
        "credit_note",
        records,
        params,
        "/v1/credit_notes",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<note_id>")
def retrieve_credit_note(note_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    note = state.store.require("credit_note", note_id, "id")
    return render(state, note, expand_paths(params))


@bp.post("/<note_id>")
def update_credit_note(note_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", "memo", "metadata"))
    note = state.store.require("credit_note", note_id, "id")
    before = copy.deepcopy(note)
    if "memo" in params:
        note["memo"] = params.text("memo")
    note["metadata"] = merge_metadata(note["metadata"], params.metadata())
    changed = previous_attributes(before, note)
    if changed:
        emit(state, "credit_note.updated", note, changed)
    return render(state, note, expand_paths(params))


@bp.post("/<note_id>/void")
def void_credit_note(note_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    note = state.store.require("credit_note", note_id, "id")
    model.void(state, note)
    return render(state, note, expand_paths(params))


@bp.get("/<note_id>/lines")
def list_credit_note_lines(note_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand", *_PAGING))
    note = state.store.require("credit_note", note_id, "credit_note")
    lines = (state.store.get("credit_note_line_item", i) for i in note["_line_ids"])
    return paginate(
        state.store,
        "credit_note_line_item",
        [line for line in lines if line is not None],
        params,
        f"/v1/credit_notes/{note_id}/lines",
        render_many(state, expand_paths(params)),
    )
