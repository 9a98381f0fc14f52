"""``GET /commands/subscriptions``: BC's webhook subscriptions, for the console's Today page.

The Today page shows each subscription and when it expires, because BC deletes one three days
after its last renewal and the connector then hears nothing (bc-api.md §7.3). The connection
report carries the same rows, but it costs about fifteen BC calls; this command is one
(``subscriptions.read_subscriptions``), so a page view can afford it. The rows are the report's,
built by the same function: which subscription is ours and which is due never differ between
the two pages or from the renewal job.

BC unreachable or refusing is the command API's usual error (``api.register_error_handlers``:
503 ``bc_unavailable``, 422 ``bc_rejected``, 502 ``bc_unexpected``), never a 500. It needs
``bc:diagnose`` like the connection report: the subscriptions describe the set-up (our URL, the
tenant's other subscribers), not the books.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint

from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api.schemas import SubscriptionListSchema
from bc_gateway.subscriptions import read_subscriptions

bp = Blueprint("subscriptions", __name__, url_prefix="/commands")


@bp.get("/subscriptions")
def list_subscriptions() -> dict[str, Any]:
    """Every subscription BC holds for the app, with its expiry, whether it is ours and due."""
    bc = bc_client()
    settings = dependencies().settings
    rows, now = read_subscriptions(
        bc, settings.notification_url, dt.timedelta(seconds=settings.renew_margin_s)
    )
    result: dict[str, Any] = SubscriptionListSchema().dump(
        {
            "value": rows,
            "count": len(rows),
            "notification_url": settings.notification_url,
            "renew_margin_hours": settings.renew_margin_s / 3600,
            "checked_at": now,
        }
    )
    return result
