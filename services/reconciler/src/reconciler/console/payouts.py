"""Payouts: every Stripe payout with its figures, one payout's reconciliation, and CSV of both.

A clerk closing the month asks of each bank receipt from Stripe what it paid out, what Stripe
kept as fees, and whether everything it settled is in BC. The list answers the first two, the
detail page the third (``payouts_data`` says how far the stored data lets it go), and the CSV
downloads carry the same rows to a spreadsheet. Reading needs any console role; what changes a
record (mark as handled) lives in ``actions`` behind the Clerk role.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request

from mlconnector.db import read_only_session
from reconciler.bootstrap import Dependencies
from reconciler.console.payouts_data import FilterError
from reconciler.console.payouts_data import PayoutFilter
from reconciler.console.payouts_data import RowStatus
from reconciler.console.payouts_data import all_payouts
from reconciler.console.payouts_data import csv_filename
from reconciler.console.payouts_data import load_reconciliation
from reconciler.console.payouts_data import payouts_csv
from reconciler.console.payouts_data import payouts_page
from reconciler.console.payouts_data import reconciliation_csv
from reconciler.console.reasons import reason_for
from reconciler.models import PayoutState

bp = Blueprint("payouts", __name__)


def _deps() -> Dependencies:
    deps: Dependencies = current_app.extensions["reconciler"]
    return deps


def _csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/payouts")
def page() -> tuple[str, int] | str:
    try:
        flt = PayoutFilter.parse(request.args)
    except FilterError as exc:
        body = render_template(
            "console/payouts.html",
            flt=PayoutFilter(),
            page=None,
            states=PayoutState,
            error=str(exc),
        )
        return body, 400
    with read_only_session(_deps().session_factory) as session:
        result = payouts_page(session, flt)
    return render_template(
        "console/payouts.html", flt=flt, page=result, states=PayoutState, error=None
    )


@bp.get("/payouts.csv")
def export_all() -> Response | tuple[str, int]:
    """Every payout of the current filter (not only the page on screen)."""
    try:
        flt = PayoutFilter.parse(request.args)
    except FilterError as exc:
        return str(exc), 400
    with read_only_session(_deps().session_factory) as session:
        rows = all_payouts(session, flt)
    return _csv_response(payouts_csv(rows), "payouts.csv")


@bp.get("/payouts/<payout_id>")
def detail(payout_id: str) -> str:
    with read_only_session(_deps().session_factory) as session:
        recon = load_reconciliation(session, payout_id)
    if recon is None:
        abort(404, description="There is no payout with this id.")
    return render_template(
        "console/payout.html",
        recon=recon,
        statuses=RowStatus,
        links=current_app.extensions["console.links"],
        reason_for=reason_for,
    )


@bp.get("/payouts/<payout_id>.csv")
def export(payout_id: str) -> Response:
    with read_only_session(_deps().session_factory) as session:
        recon = load_reconciliation(session, payout_id)
    if recon is None:
        abort(404, description="There is no payout with this id.")
    return _csv_response(reconciliation_csv(recon), csv_filename(payout_id))
