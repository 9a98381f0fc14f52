"""Balance and balance transactions (stripe-api.md §8).

`GET /v1/balance_transactions` filters by `payout` (automatic payouts only, and only once the
payout's `reconciliation_status` is `completed`, else `payout_reconciliation_not_ready`),
`type`, `source`, `currency` and `created`. `GET /v1/balance` sums `net` per currency into
`available` and `pending` by each transaction's `available_on`.
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from .errors import StripeError
from .errors import param_invalid
from .forms import Params
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("balance", __name__)


def balances(state: EmulatorState) -> tuple[dict[str, int], dict[str, int]]:
    """(available, pending) net amounts per currency."""
    now = state.clock.now()
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for txn in state.store.all("balance_transaction"):
        bucket = available if txn["available_on"] <= now else pending
        bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + int(txn["net"])
    return available, pending


@bp.get("/v1/balance")
def retrieve_balance() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    available, pending = balances(state)
    currencies = sorted(set(available) | set(pending)) or [state.config.default_currency]

    def entries(bucket: dict[str, int]) -> list[Record]:
        return [
            {"amount": bucket.get(c, 0), "currency": c, "source_types": {"card": bucket.get(c, 0)}}
            for c in currencies
        ]

    return {
        "object": "balance",
        "available": entries(available),
        "connect_reserved": None,
        "instant_available": None,
        "issuing": None,
        "livemode": False,
        "pending": entries(pending),
        "refund_and_dispute_prefunding": None,
    }


@bp.get("/v1/balance_transactions")
def list_balance_transactions() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "currency", "payout", "source", "type"))
    payout_id = params.string("payout")
    if payout_id is not None:
        payout = state.store.require("payout", payout_id, "payout")
        if not payout["automatic"]:
            raise param_invalid(
                "payout",
                "Balance transaction history can only be filtered on automatic payouts, "
                "not manual.",
            )
        if payout["reconciliation_status"] != "completed":
            raise StripeError(
                400,
                f"Balance transactions for payout {payout_id} are not available until its "
                "reconciliation_status is completed.",
                code="payout_reconciliation_not_ready",
                param="payout",
            )
    currency, source, type_ = (
        params.string("currency"),
        params.string("source"),
        params.string("type"),
    )
    created = range_filter(params, "created")
    records = [
        r
        for r in state.store.all("balance_transaction")
        if created(r["created"])
        and (payout_id is None or r["_payout"] == payout_id)
        and (currency is None or r["currency"] == currency)
        and (source is None or r["source"] == source)
        and (type_ is None or r["type"] == type_)
    ]
    return paginate(
        state.store,
        "balance_transaction",
        records,
        params,
        "/v1/balance_transactions",
        render_many(state, expand_paths(params)),
    )


@bp.get("/v1/balance_transactions/<txn_id>")
def retrieve_balance_transaction(txn_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    txn = state.store.require("balance_transaction", txn_id, "id")
    return render(state, txn, expand_paths(params))
