"""``GET /commands/payouts/<id>`` and its balance transactions (every page)."""

from __future__ import annotations

from flask import Blueprint

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api.schemas import PAYOUT_PREFIXES
from stripe_gateway.api.schemas import PayoutSchema
from stripe_gateway.api.schemas import PayoutTransactionsSchema
from stripe_gateway.api.schemas import stripe_path_id
from stripe_gateway.services.reads import read_payout
from stripe_gateway.services.reads import read_payout_transactions

bp = Blueprint("payouts", __name__, url_prefix="/commands/payouts")


@bp.get("/<payout_id>")
def read(payout_id: str) -> dict[str, object]:
    payout_id = stripe_path_id(payout_id, field="payout_id", prefixes=PAYOUT_PREFIXES)
    return dump(PayoutSchema(), read_payout(dependencies().stripe, payout_id))


@bp.get("/<payout_id>/balance-transactions")
def balance_transactions(payout_id: str) -> dict[str, object]:
    """409 ``payout_not_reconciled`` until Stripe finished the payout's reconciliation."""
    payout_id = stripe_path_id(payout_id, field="payout_id", prefixes=PAYOUT_PREFIXES)
    return dump(
        PayoutTransactionsSchema(), read_payout_transactions(dependencies().stripe, payout_id)
    )
