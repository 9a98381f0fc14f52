"""`/v1/disputes`: list, retrieve, update (evidence, metadata, submit), close (accept).

The routes and parameters are stripe-python 16.1.0's (`_dispute_service.py`,
`params/_dispute_list_params.py`, `_dispute_update_params.py`, `_dispute_close_params.py`):
`GET /v1/disputes` (`charge`, `payment_intent`, `created`, pagination), `GET` and `POST
/v1/disputes/{dispute}`, `POST /v1/disputes/{dispute}/close`. Behaviour lives in disputes.py.
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .dispute_model import parse_evidence
from .disputes import accept_dispute
from .disputes import update_dispute
from .forms import Params
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import get_state
from .store import Record

bp = Blueprint("disputes", __name__, url_prefix="/v1/disputes")

SUBMISSION_METHODS = ("manual", "prefer_manual", "prefer_smart_disputes", "smart_disputes")


@bp.get("")
def list_disputes() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "charge", "payment_intent"))
    charge, intent = params.string("charge"), params.string("payment_intent")
    created = range_filter(params, "created")
    records = [
        r
        for r in state.store.all("dispute")
        if created(r["created"])
        and (charge is None or r["charge"] == charge)
        and (intent is None or r["payment_intent"] == intent)
    ]
    return paginate(
        state.store,
        "dispute",
        records,
        params,
        "/v1/disputes",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<dispute_id>")
def retrieve_dispute(dispute_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    dispute = state.store.require("dispute", dispute_id, "dispute")
    return render(state, dispute, expand_paths(params))


@bp.post("/<dispute_id>")
def modify_dispute(dispute_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("evidence", "expand", "intended_submission_method", "metadata", "submit"))
    dispute = state.store.require("dispute", dispute_id, "dispute")
    evidence_params = params.sub("evidence")
    evidence = None if evidence_params is None else parse_evidence(evidence_params)
    update_dispute(
        state,
        dispute,
        evidence=evidence,
        metadata=params.metadata(),
        submit=params.boolean("submit"),
        submission_method=params.string("intended_submission_method", choices=SUBMISSION_METHODS),
    )
    return render(state, dispute, expand_paths(params))


@bp.post("/<dispute_id>/close")
def close_dispute(dispute_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    dispute = state.store.require("dispute", dispute_id, "dispute")
    accept_dispute(state, dispute)
    return render(state, dispute, expand_paths(params))
