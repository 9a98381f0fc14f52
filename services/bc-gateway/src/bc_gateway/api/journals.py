"""Journal commands: post the connector's own payment batches, write payout G/L lines."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api import json_body
from bc_gateway.api.schemas import GeneralLinesRequestSchema
from bc_gateway.api.schemas import GeneralLinesResultSchema
from bc_gateway.api.schemas import PostJournalResultSchema
from bc_gateway.general_lines import add_general_lines
from bc_gateway.journals import post_connector_journal

bp = Blueprint("journals", __name__, url_prefix="/commands")


@bp.post("/payment-journals/<name>/post")
def post_payment_journal(name: str) -> dict[str, Any]:
    """Post every line of the named connector batch; BC's refusal comes back as bc_rejected."""
    books = dependencies().books
    allowed = (books.payment_journal, books.refund_journal)
    result: dict[str, Any] = PostJournalResultSchema().dump(
        post_connector_journal(bc_client(), name, allowed, dependencies().batches)
    )
    return result


@bp.post("/general-journal-lines")
def general_journal_lines() -> dict[str, Any]:
    """Write payout lines (idempotent by document and external document number), maybe post."""
    command = GeneralLinesRequestSchema().load(json_body())
    report = add_general_lines(
        command["lines"],
        journal=command["journal"],
        post=command["post"],
        bc=bc_client(),
        books=dependencies().books,
    )
    result: dict[str, Any] = GeneralLinesResultSchema().dump(report)
    return result
