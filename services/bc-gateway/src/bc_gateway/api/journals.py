"""Journal commands: post the connector's own payment batches, write payout G/L lines, value
foreign amounts in the local currency.

Only the configured batches can be named (``MLC_BC_PAYMENT_JOURNAL`` and
``MLC_BC_REFUND_JOURNAL`` for posting, ``MLC_BC_GENERAL_JOURNAL`` for payout lines); any other
name is a 422 on the ``journal`` field before BC is asked anything.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from bc_gateway import exchange_rates
from bc_gateway.account_balance import gl_balance
from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api import json_body
from bc_gateway.api.schemas import AccountBalanceSchema
from bc_gateway.api.schemas import GeneralLinesRequestSchema
from bc_gateway.api.schemas import GeneralLinesResultSchema
from bc_gateway.api.schemas import LcyAmountsRequestSchema
from bc_gateway.api.schemas import LcyAmountsResultSchema
from bc_gateway.api.schemas import PostJournalQuerySchema
from bc_gateway.api.schemas import PostJournalRequestSchema
from bc_gateway.api.schemas import PostJournalResultSchema
from bc_gateway.api.schemas import validate_account
from bc_gateway.api.schemas import validate_journal
from bc_gateway.general_lines import add_general_lines
from bc_gateway.journals import post_connector_journal
from bc_gateway.rejections import Rejected
from mlconnector.web import error_response

bp = Blueprint("journals", __name__, url_prefix="/commands")


@bp.errorhandler(Rejected)
def _rejected(exc: Rejected) -> tuple[Response, int]:
    """The refusal with its field, in the ``validation_failed`` details shape."""
    return error_response(exc.status, exc.code, exc.message, **exc.details())


@bp.post("/payment-journals/<journal>/post")
def post_payment_journal(journal: str) -> dict[str, Any]:
    """Post every line of the named connector batch; BC's refusal comes back as bc_rejected.

    ``?report=false``: post without listing the lines first (one BC call instead of two). A body
    ``{"check": [...]}`` holds payment lines against their invoices' open amounts first.
    """
    code = validate_journal(journal)
    deps = dependencies()
    configured = {
        **deps.books.payment_journals(),
        "MLC_BC_REFUND_JOURNAL": deps.books.refund_journal,
    }
    query = PostJournalQuerySchema().load(request.args.to_dict())
    body = PostJournalRequestSchema().load(json_body())
    result: dict[str, Any] = PostJournalResultSchema().dump(
        post_connector_journal(
            bc_client(),
            code,
            configured,
            deps.batches,
            report=query["report"],
            check=body["check"],
        )
    )
    return result


@bp.post("/general-journal-lines")
def general_journal_lines() -> dict[str, Any]:
    """Write payout lines (idempotent by document and external document number), maybe post."""
    command = GeneralLinesRequestSchema().load(json_body())
    deps = dependencies()
    report = add_general_lines(
        command["lines"],
        journal=command["journal"],
        currency=command["currency"],
        limit=command["limit"],
        post=command["post"],
        bc=bc_client(),
        books=deps.books,
        lcy=deps.lcy,
    )
    result: dict[str, Any] = GeneralLinesResultSchema().dump(report)
    return result


@bp.post("/lcy-amounts")
def lcy_amounts() -> dict[str, Any]:
    """BC's local-currency value of amounts in another currency (``exchange_rates``)."""
    command = LcyAmountsRequestSchema().load(json_body())
    bc = bc_client()
    result: dict[str, Any] = LcyAmountsResultSchema().dump(
        exchange_rates.lcy_amounts(
            bc,
            command["currency"],
            command["posting_date"],
            command["amounts"],
            dependencies().lcy.code(bc),
        )
    )
    return result


@bp.get("/gl-accounts/<number>/balance")
def account_balance(number: str) -> dict[str, Any]:
    """A G/L account's balance in the local currency, from its G/L entries."""
    number = validate_account(number)
    result: dict[str, Any] = AccountBalanceSchema().dump(gl_balance(bc_client(), number))
    return result
