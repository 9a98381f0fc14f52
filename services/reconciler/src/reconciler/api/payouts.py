"""``/payouts``: how each Stripe payout was reconciled (fee and bank lines, unmatched items).

``GET /payouts`` pages through reconciled payouts, newest first; ``GET /payouts/<po_…>`` shows
one payout with the record that tracks it and that record's audit trail. A payout announced but
not yet paid has a record and no payout row: it is shown with ``"payout": null``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import request

from mlconnector.db import read_only_session
from mlconnector.web import ApiError
from reconciler.api.schemas import PageQuerySchema
from reconciler.api.schemas import PayoutDetailSchema
from reconciler.api.schemas import PayoutSchema
from reconciler.bootstrap import Dependencies
from reconciler.queries import get_payout
from reconciler.queries import list_payouts

bp = Blueprint("payouts", __name__, url_prefix="/payouts")

MAX_PAYOUT_ID_LENGTH = 255


def _deps() -> Dependencies:
    deps: Dependencies = current_app.extensions["reconciler"]
    return deps


@bp.get("")
def index() -> dict[str, object]:
    page_query: dict[str, Any] = PageQuerySchema().load(request.args)
    with read_only_session(_deps().session_factory) as session:
        page = list_payouts(session, limit=page_query["limit"], cursor=page_query["cursor"])
        data = PayoutSchema(many=True).dump(page.items)
    return {"data": data, "next_cursor": page.next_cursor}


@bp.get("/<string:stripe_payout_id>")
def show(stripe_payout_id: str) -> dict[str, object]:
    if len(stripe_payout_id) > MAX_PAYOUT_ID_LENGTH:
        raise ApiError("payout id too long", status_code=404, code="not_found")
    with read_only_session(_deps().session_factory) as session:
        detail = get_payout(session, stripe_payout_id)
        if detail is None:
            raise ApiError(
                f"payout {stripe_payout_id} is not known", status_code=404, code="not_found"
            )
        body: dict[str, object] = PayoutDetailSchema().dump(detail)
    return body
