"""``/records``: list sync records, show one with its audit trail, replay its source message.

Views stay thin (style.md §3.3): validate with a schema, call one function of ``queries`` or
``replay``, dump with a schema. Replay failures are domain exceptions mapped to statuses here:
unknown record 404, nothing to replay 409, broker unavailable 503 (the record keeps its state,
so the operator can simply try again).
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request

from mlconnector.bus import PublishError
from mlconnector.db import read_only_session
from mlconnector.jsonbody import request_json
from mlconnector.web import ApiError
from mlconnector.web import error_response
from reconciler.api.schemas import RecordDetailSchema
from reconciler.api.schemas import RecordQuerySchema
from reconciler.api.schemas import RecordSummarySchema
from reconciler.api.schemas import ReplayRequestSchema
from reconciler.api.schemas import ReplayResultSchema
from reconciler.bootstrap import Dependencies
from reconciler.queries import RecordFilter
from reconciler.queries import get_record
from reconciler.queries import list_records
from reconciler.replay import NotReplayable
from reconciler.replay import RecordNotFound
from reconciler.replay import replay_record

logger = logging.getLogger(__name__)

bp = Blueprint("records", __name__, url_prefix="/records")


def _deps() -> Dependencies:
    deps: Dependencies = current_app.extensions["reconciler"]
    return deps


@bp.get("")
def index() -> dict[str, object]:
    where: RecordFilter = RecordQuerySchema().load(request.args)
    with read_only_session(_deps().session_factory) as session:
        page = list_records(session, where)
        data = RecordSummarySchema(many=True).dump(page.items)
    return {"data": data, "next_cursor": page.next_cursor}


@bp.get("/<int:record_id>")
def show(record_id: int) -> dict[str, object]:
    with read_only_session(_deps().session_factory) as session:
        detail = get_record(session, record_id)
        if detail is None:
            raise ApiError(f"record {record_id} does not exist", status_code=404, code="not_found")
        body: dict[str, object] = RecordDetailSchema().dump(detail)
    return body


@bp.post("/<int:record_id>/replay")
def replay(record_id: int) -> tuple[dict[str, object], int]:
    # A body that is not JSON (or not declared JSON) reads as no body, and the schema names the
    # missing fields (422); hostile JSON is still a 400 (``mlconnector.jsonbody``).
    given = request_json(silent=True) if request.is_json else None
    command = ReplayRequestSchema().load(given or {})
    deps = _deps()
    result = replay_record(
        deps.session_factory,
        deps.publisher,
        record_id,
        actor=command["actor"],
        reason=command["reason"],
    )
    body: dict[str, object] = ReplayResultSchema().dump(result)
    return body, 202


@bp.errorhandler(RecordNotFound)
def _record_not_found(exc: RecordNotFound) -> tuple[Response, int]:
    return error_response(404, "not_found", str(exc))


@bp.errorhandler(NotReplayable)
def _not_replayable(exc: NotReplayable) -> tuple[Response, int]:
    return error_response(409, "not_replayable", str(exc))


@bp.errorhandler(PublishError)
def _bus_unavailable(exc: PublishError) -> tuple[Response, int]:
    logger.warning("replay not published: %s: %s", type(exc).__name__, exc)
    response, status = error_response(
        503,
        "bus_unavailable",
        "the message bus did not confirm the replay; the record keeps its state, try again later",
    )
    response.headers["Retry-After"] = "5"
    return response, status
