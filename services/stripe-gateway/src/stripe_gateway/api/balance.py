"""What the daily drift check reads from Stripe (the reconciler's ``drift``).

- ``GET /commands/balance``: the balance, available and pending, per currency;
- ``GET /commands/balance-transactions?created_gte=<unix time>``: every balance transaction
  created since then (all pages);
- ``GET /commands/payouts?created_gte=<unix time>``: every payout created since then.
"""

from __future__ import annotations

from flask import Blueprint
from flask import request
from marshmallow import ValidationError

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api.schemas import BalanceSchema
from stripe_gateway.api.schemas import PayoutListSchema
from stripe_gateway.api.schemas import TransactionListSchema
from stripe_gateway.services.reads import read_balance
from stripe_gateway.services.reads import read_payouts_since
from stripe_gateway.services.reads import read_transactions_since

bp = Blueprint("balance", __name__, url_prefix="/commands")


def _since() -> int:
    raw = request.args.get("created_gte", "")
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationError({"created_gte": ["A unix time in seconds is required."]})
    return int(raw)


@bp.get("/balance")
def balance() -> dict[str, object]:
    return dump(BalanceSchema(), read_balance(dependencies().stripe))


@bp.get("/balance-transactions")
def transactions() -> dict[str, object]:
    since = _since()
    return dump(TransactionListSchema(), read_transactions_since(dependencies().stripe, since))


@bp.get("/payouts")
def payouts() -> dict[str, object]:
    since = _since()
    return dump(PayoutListSchema(), read_payouts_since(dependencies().stripe, since))
