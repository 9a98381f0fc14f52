"""Needs a person: one queue of everything a person must look at, with filters and a CSV export."""

from __future__ import annotations

import csv
import io

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import request

from reconciler.bootstrap import Dependencies
from reconciler.console.formatting import money
from reconciler.console.queue_data import FilterError
from reconciler.console.queue_data import QueueFilter
from reconciler.console.queue_data import all_rows
from reconciler.console.queue_data import queue_counts
from reconciler.console.queue_data import queue_page
from reconciler.console.reasons import REASONS
from reconciler.console.reasons import reason_for

bp = Blueprint("queue", __name__)


def _deps() -> Dependencies:
    deps: Dependencies = current_app.extensions["reconciler"]
    return deps


@bp.get("/queue")
def page() -> tuple[str, int] | str:
    try:
        flt = QueueFilter.parse(request.args)
    except FilterError as exc:
        return render_template(
            "console/queue.html",
            flt=QueueFilter(),
            page=None,
            counts={},
            error=str(exc),
            reasons=REASONS,
            reason_for=reason_for,
        ), 400
    with _deps().session_factory() as session:
        result = queue_page(session, flt)
        counts = queue_counts(session)
        return render_template(
            "console/queue.html",
            flt=flt,
            page=result,
            counts=counts,
            error=None,
            reasons=REASONS,
            reason_for=reason_for,
        )


@bp.get("/queue.csv")
def export() -> Response | tuple[str, int]:
    try:
        flt = QueueFilter.parse(request.args)
    except FilterError as exc:
        return str(exc), 400
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "record",
            "kind",
            "reason",
            "action",
            "bc_number",
            "stripe_id",
            "amount",
            "currency",
            "state",
            "created_at",
            "detail",
        ]
    )
    with _deps().session_factory() as session:
        for row in all_rows(session, flt):
            reason = reason_for(row.attention)
            flags = row.flags or {}
            writer.writerow(
                [
                    row.id,
                    row.kind.value,
                    reason.title,
                    flags.get("todo") or reason.action,
                    row.bc_number or "",
                    row.stripe_ref or "",
                    money(row.amount_minor, row.currency).rsplit(" ", 1)[0]
                    if row.amount_minor is not None
                    else "",
                    (row.currency or "").upper(),
                    row.state.value,
                    row.created_at.isoformat(),
                    row.last_error or "",
                ]
            )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="needs-a-person.csv"'},
    )
