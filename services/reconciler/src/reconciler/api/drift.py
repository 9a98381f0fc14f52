"""``POST /drift-checks``: run the drift check now (docs/accounting.md), as the CronJob does daily.

The body names who asked (``actor``), kept on each currency's audit step. The answer lists each
currency's figures; the results are records of kind ``drift`` too (``GET /records?kind=drift``),
so the daily history stays where the rest of the trail is.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request

from mlconnector.jsonbody import request_json
from mlconnector.web import error_response
from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable
from reconciler.api.schemas import DriftRequestSchema
from reconciler.api.schemas import DriftResultSchema
from reconciler.bootstrap import Dependencies
from reconciler.drift import run_drift_check

logger = logging.getLogger(__name__)

bp = Blueprint("drift", __name__, url_prefix="/drift-checks")


@bp.post("")
def check() -> dict[str, object]:
    # No body is the defaults; a JSON body must be an object (``null`` or a list is a 422).
    given = request_json() if request.is_json and request.get_data() else {}
    command = DriftRequestSchema().load(given)
    deps: Dependencies = current_app.extensions["reconciler"]
    results = run_drift_check(
        deps.handler_deps,
        deps.session_factory,
        lookback_days=command["lookback_days"],
        actor=command["actor"],
    )
    body: dict[str, object] = DriftResultSchema().dump({"currencies": results})
    return body


@bp.errorhandler(GatewayUnavailable)
def _gateway_unavailable(exc: GatewayUnavailable) -> tuple[Response, int]:
    logger.warning("drift check not run: %s", exc)
    response, status = error_response(
        503, "gateway_unavailable", "a gateway did not answer; nothing was recorded, try again"
    )
    response.headers["Retry-After"] = "30"
    return response, status


@bp.errorhandler(GatewayRejected)
def _gateway_rejected(exc: GatewayRejected) -> tuple[Response, int]:
    logger.warning("drift check not run: %s", exc)
    return error_response(
        502, "gateway_refused", f"a gateway refused a read ({exc.code}); nothing was recorded"
    )
