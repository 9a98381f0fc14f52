"""stripe-gateway: owns the Stripe API key, the Stripe SDK calls and the Stripe webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from mlconnector.metrics_export import install_metrics
from mlconnector.ratelimit import install_webhook_limits
from mlconnector.service_auth import install_service_auth
from mlconnector.web import configure_app
from mlconnector.web import health_blueprint
from stripe_gateway.api.access import PERMISSIONS
from stripe_gateway.bootstrap import Dependencies
from stripe_gateway.bootstrap import build_dependencies
from stripe_gateway.settings import SERVICE
from stripe_gateway.settings import Settings


def create_app(
    test_config: Mapping[str, Any] | None = None, deps: Dependencies | None = None
) -> Flask:
    """Build the app; nothing connects to the broker until a request needs it."""
    app = Flask(__name__, static_folder=None)  # no files to serve, so no /static route
    settings = Settings.from_env()
    configure_app(app, max_body_bytes=settings.max_body_bytes)
    if test_config:
        app.config.from_mapping(test_config)
    install_webhook_limits(app, settings.common, "/webhooks/stripe")
    dependencies = deps or build_dependencies(settings)
    app.extensions["stripe_gateway"] = dependencies

    from stripe_gateway.api import balance
    from stripe_gateway.api import charges
    from stripe_gateway.api import connection
    from stripe_gateway.api import customers
    from stripe_gateway.api import disputes
    from stripe_gateway.api import invoices
    from stripe_gateway.api import openapi
    from stripe_gateway.api import payouts
    from stripe_gateway.api import webhooks
    from stripe_gateway.errors import register_error_handlers

    for module in (webhooks, customers, invoices, charges, disputes, payouts, balance, connection):
        app.register_blueprint(module.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    # /metrics: open, but on the command port only (``mlconnector.service_auth``).
    install_metrics(app, webhooks={"/webhooks/stripe": "stripe"})
    # Readiness deliberately has no "stripe" check: a Stripe outage must not take the pods out
    # of the Service, or Stripe's own webhook retries (and the reconciler's commands, which get
    # a 503 with Retry-After) would find no endpoint at all; the webhook path needs only the
    # broker and the secrets. ``stripe-gateway ping`` checks Stripe on demand.
    app.register_blueprint(
        health_blueprint(
            {
                "rabbitmq": dependencies.publisher.check,
                "secrets": dependencies.secret_store.check,
            },
            timeout=settings.common.readiness_timeout_s,
        )
    )
    # Every command needs the reconciler's token and a grant (``api.access``); the webhooks
    # carry their own proof and stay open.
    install_service_auth(
        app,
        verifier=dependencies.verifier,
        common=settings.common,
        permissions=PERMISSIONS,
        realm=SERVICE,
    )
    return app
