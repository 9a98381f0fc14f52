"""``/commands/credit-memos/<id>``, ``/commands/invoices/<id>/credit-memos`` (``credit_memos``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from bc_gateway import credit_memos
from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api.schemas import CreditMemoListSchema
from bc_gateway.api.schemas import CreditMemoSchema
from bc_gateway.api.schemas import validate_guid

bp = Blueprint("credit_memos", __name__, url_prefix="/commands")


@bp.get("/credit-memos/<memo_id>")
def get_credit_memo(memo_id: str) -> dict[str, Any]:
    """One sales credit memo with its lines; ``invoice_id`` is the invoice it applies to."""
    memo = credit_memos.get_credit_memo(bc_client(), dependencies().lcy, validate_guid(memo_id))
    result: dict[str, Any] = CreditMemoSchema().dump(memo)
    return result


@bp.get("/invoices/<invoice_id>/credit-memos")
def credit_memos_of(invoice_id: str) -> dict[str, Any]:
    """Every credit memo naming the invoice (headers), drafts included (``posted`` says)."""
    found = credit_memos.credit_memos_of(bc_client(), dependencies().lcy, validate_guid(invoice_id))
    result: dict[str, Any] = CreditMemoListSchema().dump({"value": found, "count": len(found)})
    return result
