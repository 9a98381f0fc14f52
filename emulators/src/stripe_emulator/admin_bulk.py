"""Control surface, part 3: bulk seeding, for benchmarks that need tens of thousands of objects.

Paying 50,000 invoices by card through `pay_by_card` is 50,000 requests, each running the whole
invoice and payment pipeline under the state lock: minutes of set-up for a benchmark of a poll
that only needs the charges and their events to exist. One call here creates them:

- `POST /_emulator/bulk/charges` `{count, since, until, amount?, currency?, customer?, events?}`
  → `{count, first, last}` (the oldest and newest charge id).

Each is a succeeded card charge as the API shapes it (the same record builder as a confirmed
PaymentIntent) with its `charge` balance transaction, as a legacy Charges-API charge has it:
no PaymentIntent. `created` is spread evenly over `[since, until)` in creation order, so lists
(newest first by insertion) page through them in time order as Stripe does, and with
`events` (the default) each gets its `charge.succeeded` event at the same time. Events older
than the retention are stored but never listed, as in Stripe.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .admin_actions import body
from .charges import _charge  # the API's own record builder, so the shapes cannot drift
from .currency import validate_charge_amount
from .errors import param_invalid
from .events import emit
from .ids import new_id
from .ledger import charge_transaction
from .settlement import settle
from .state import get_state
from .store import Record

bp = Blueprint("admin_bulk", __name__, url_prefix="/_emulator/bulk")

MAX_COUNT = 200_000


def _integer(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_invalid(key, f"{key} must be an integer.")
    return value


@bp.post("/charges")
def bulk_charges() -> Record:
    state, data = get_state(), body()
    count = _integer(data, "count")
    if not 1 <= count <= MAX_COUNT:
        raise param_invalid("count", f"count must be between 1 and {MAX_COUNT}.")
    now = int(state.clock.now())
    since, until = _integer(data, "since", now - 3600), _integer(data, "until", now)
    if since >= until:
        raise param_invalid("until", "until must be after since.")
    amount = _integer(data, "amount", 1000)
    currency = str(data.get("currency") or state.config.default_currency).lower()
    validate_charge_amount(amount, currency)
    with_events = bool(data.get("events", True))
    customer = data.get("customer")
    with state.lock:
        if customer is not None:
            state.store.require("customer", str(customer), "customer")
        # A legacy Charges-API charge: no PaymentIntent behind it.
        template: Record = {
            "id": None,
            "amount": amount,
            "currency": currency,
            "customer": customer,
            "description": None,
            "metadata": {},
        }
        settle(state.config, amount, currency)  # fails before any charge without a rate
        card = new_id("payment_method")
        first = last = ""
        for index in range(count):
            created = since + index * (until - since) // count
            charge = _charge(state, template, card, None)
            charge["created"] = created
            txn = charge_transaction(state, charge)
            txn["created"] = created
            txn["available_on"] = created + state.config.available_after_days * 86400
            charge["balance_transaction"] = txn["id"]
            if with_events:
                event = emit(state, "charge.succeeded", charge)
                event["created"] = created
            first = first or charge["id"]
            last = charge["id"]
        return {"count": count, "first": first, "last": last}
