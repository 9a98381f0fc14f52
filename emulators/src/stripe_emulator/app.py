"""The Flask app factory: `create_app(config=None) -> Flask`.

`config` maps emulator setting names (see `config.EmulatorConfig`, e.g. `{"rate_limit": 0,
"fees": {"default": {"percent": "1.4", "fixed": 25}}}`) to values; upper-case keys go to
Flask's own `app.config`. Nothing runs at import: the state, the webhook dispatcher (whose
thread starts on the first delivery) and the blueprints are created here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from .config import EmulatorConfig
from .delivery import Dispatcher
from .state import EXTENSION
from .state import EmulatorState


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A new emulator app with its own empty world."""
    app = Flask("stripe_emulator")
    settings = EmulatorConfig()
    emulator_values = {k: v for k, v in (config or {}).items() if not k.isupper()}
    app.config.from_mapping({k: v for k, v in (config or {}).items() if k.isupper()})
    settings.update(emulator_values)
    state = EmulatorState(settings)
    state.dispatcher = Dispatcher(state)
    app.extensions[EXTENSION] = state
    # Keep Stripe's field order (id, object, ...) instead of sorting keys.
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from . import account
    from . import admin_actions
    from . import admin_bulk
    from . import admin_knobs
    from . import balance
    from . import credit_notes
    from . import customer_balance
    from . import customers
    from . import dispute_routes
    from . import events
    from . import invoice_items
    from . import invoice_lines
    from . import invoices
    from . import payment_records
    from . import payments
    from . import payouts
    from . import pipeline
    from . import refunds
    from . import webhook_endpoints
    from .errors import register_error_handlers

    for module in (
        customers, customer_balance, invoices, invoice_lines, invoice_items, credit_notes,
        payment_records, payments, refunds, dispute_routes, balance, payouts, events,
        webhook_endpoints, account, admin_actions, admin_knobs, admin_bulk,
    ):  # fmt: skip
        app.register_blueprint(module.bp)
    pipeline.install(app)
    register_error_handlers(app)
    app.url_map.strict_slashes = False
    return app
