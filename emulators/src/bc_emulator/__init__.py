"""Business Central API v2.0 emulator (Flask) for tests, the demo and benchmarks.

``create_app(config)`` builds an app whose behaviour follows bc-api.md: an Entra-style token
endpoint with interactive sign-in (OIDC authorization-code flow with PKCE), the company-scoped API
under ``/v2.0/{tenant}/{environment}/api/v2.0``, webhooks with retries, throttling, and an admin
API under ``/_emulator``. Nothing runs at import; the webhook sender thread starts with the first
queued notification. See README.md for every option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from bc_emulator.config import EmulatorConfig
from bc_emulator.config import make_config

__all__ = ["EmulatorConfig", "create_app"]


def create_app(config: Mapping[str, Any] | EmulatorConfig | None = None) -> Flask:
    """Build an emulator app from an :class:`EmulatorConfig` or a mapping of its fields."""
    from bc_emulator import admin_balances
    from bc_emulator import admin_control
    from bc_emulator import admin_seed
    from bc_emulator import admin_signin
    from bc_emulator import api
    from bc_emulator import auth
    from bc_emulator import signin
    from bc_emulator.errors import register_error_handlers
    from bc_emulator.jsonio import DecimalJSONProvider
    from bc_emulator.state import EXTENSION
    from bc_emulator.state import Emulator

    app = Flask("bc_emulator")
    app.json = DecimalJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = 350 * 1024 * 1024  # BC's body limit (bc-api.md §8)
    app.extensions[EXTENSION] = Emulator(make_config(config))
    app.register_blueprint(auth.bp)
    app.register_blueprint(signin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin_control.bp)
    app.register_blueprint(admin_seed.bp)
    app.register_blueprint(admin_balances.bp)
    app.register_blueprint(admin_signin.bp)
    register_error_handlers(app)
    return app
