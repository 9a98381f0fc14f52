"""Connections: "ping your real systems", for the administrator setting the connector up.

Each gateway checks its own side on request (BC: token, company, permissions, webhook
subscriptions; Stripe: key, account, webhook endpoints, read access) and this page shows both
reports, asked side by side (``connections_data``). It reads and changes nothing in the
connector's books, but it shows how the connector is set up (tenant, app, key type, webhook
URLs), so it needs the Admin role. Reloading the page asks again.
"""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import render_template

from reconciler.adapters.gateways import CONNECTION_TIMEOUT_S
from reconciler.bootstrap import Dependencies
from reconciler.console.connections_data import BC_GATEWAY
from reconciler.console.connections_data import STRIPE_GATEWAY
from reconciler.console.connections_data import ask_gateways
from reconciler.console.connections_data import bc_side
from reconciler.console.connections_data import stripe_side
from reconciler.console.connections_data import subscriptions_of
from reconciler.console.roles import Role
from reconciler.console.roles import requires

#: What the page waits beyond the gateways' own deadline: their answer still has to travel.
GRACE_S = 2.0

bp = Blueprint("connections", __name__)


@bp.get("/connections")
@requires(Role.ADMIN)
def page() -> str:
    deps: Dependencies = current_app.extensions["reconciler"]
    gateways = deps.handler_deps
    answers = ask_gateways(
        {
            BC_GATEWAY: lambda: gateways.bc.connection(CONNECTION_TIMEOUT_S),
            STRIPE_GATEWAY: lambda: gateways.stripe.connection(CONNECTION_TIMEOUT_S),
        },
        wait_s=CONNECTION_TIMEOUT_S + GRACE_S,
    )
    bc = answers[BC_GATEWAY]
    return render_template(
        "console/connections.html",
        bc=bc_side(bc),
        stripe=stripe_side(answers[STRIPE_GATEWAY]),
        subscriptions=subscriptions_of(bc.report),
    )
