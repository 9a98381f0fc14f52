"""``/commands/payments`` and ``/commands/refunds``: one customer line per external document.

A payment line (negative amount, applied to the invoice) goes to the connector's payment batch,
a refund line (positive amount) to its refund batch; both are idempotent by external document
number (``postings``). 201 when a line was created, 200 when it already existed or was posted.
A refusal is a 422 naming the field: the schema's ``validation_failed``, or the use case's
``Rejected`` (an unconfigured journal, ``amount_exceeds_remaining`` with the invoice's remaining
amount for a payment above it that is not flagged as an overpayment).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response

from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api import json_body
from bc_gateway.api import ok
from bc_gateway.api.schemas import CustomerLineRequestSchema
from bc_gateway.api.schemas import CustomerLineResultSchema
from bc_gateway.postings import PAYMENT
from bc_gateway.postings import REFUND
from bc_gateway.postings import record_customer_line
from bc_gateway.rejections import Rejected
from mlconnector.web import error_response

bp = Blueprint("payments", __name__, url_prefix="/commands")


@bp.errorhandler(Rejected)
def _rejected(exc: Rejected) -> tuple[Response, int]:
    """The refusal with its field, in the ``validation_failed`` details shape."""
    return error_response(exc.status, exc.code, exc.message, **exc.details())


def _record(kind: str) -> tuple[Response, int]:
    body = json_body()
    if isinstance(body, dict):
        body.setdefault("kind", kind)
    line = CustomerLineRequestSchema().load(body)
    deps = dependencies()
    result = record_customer_line(
        line, bc=bc_client(), books=deps.books, lcy=deps.lcy, batches=deps.batches
    )
    return ok(CustomerLineResultSchema().dump(result), 201 if result["created"] else 200)


@bp.post("/payments")
def create_payment() -> tuple[Response, int]:
    """Create the payment line unless it exists; ``kind`` may say ``refund`` instead."""
    return _record(PAYMENT)


@bp.post("/refunds")
def create_refund() -> tuple[Response, int]:
    """Create the refund line (positive amount, refund batch) unless it exists."""
    return _record(REFUND)
