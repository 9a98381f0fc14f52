"""bc-gateway: owns the Business Central API, its Entra ID token and its webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from bc_gateway.api.access import PERMISSIONS
from bc_gateway.bootstrap import Dependencies
from bc_gateway.bootstrap import build_dependencies
from bc_gateway.settings import SERVICE
from bc_gateway.settings import Settings
from mlconnector.metrics_export import ScrapeTimeCollector
from mlconnector.metrics_export import install_metrics
from mlconnector.ratelimit import install_webhook_limits
from mlconnector.service_auth import install_service_auth
from mlconnector.web import configure_app
from mlconnector.web import health_blueprint


def create_app(
    test_config: Mapping[str, Any] | None = None, deps: Dependencies | None = None
) -> Flask:
    """Build the app; nothing connects to the broker, Entra or BC until a request needs it."""
    from bc_gateway import api
    from bc_gateway.api import connection
    from bc_gateway.api import credit_memos
    from bc_gateway.api import customers
    from bc_gateway.api import invoices
    from bc_gateway.api import journals
    from bc_gateway.api import openapi
    from bc_gateway.api import payments
    from bc_gateway.api import subscriptions
    from bc_gateway.api import webhooks

    app = Flask(__name__, static_folder=None)  # no files to serve, so no /static route
    settings = deps.settings if deps is not None else Settings.from_env()
    configure_app(app, max_body_bytes=settings.max_body_bytes)
    if test_config:
        app.config.from_mapping(test_config)
    install_webhook_limits(app, settings.common, "/webhooks/bc")
    dependencies = deps or build_dependencies(settings)
    app.extensions[api.EXTENSION] = dependencies
    # Readiness covers what the gateway needs to accept a webhook: the broker and the secret
    # store. It deliberately leaves BC out: a BC outage must not take the webhook endpoint out of
    # rotation (BC itself is the caller, and is then not sending), and the command API already
    # answers 503 bc_unavailable on its own when BC is down.
    app.register_blueprint(
        health_blueprint(
            {
                "rabbitmq": dependencies.publisher.check,
                "secrets": dependencies.secret_store.check,
            },
            timeout=settings.common.readiness_timeout_s,
        )
    )
    for module in (
        webhooks,
        invoices,
        credit_memos,
        customers,
        payments,
        journals,
        connection,
        subscriptions,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(openapi.bp)
    api.register_error_handlers(app)
    # /metrics: open, but on the command port only (``mlconnector.service_auth``).
    install_metrics(
        app, webhooks={"/webhooks/bc": "bc"}, collectors=_scrape_time(dependencies, settings)
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


def _scrape_time(deps: Dependencies, settings: Settings) -> list[ScrapeTimeCollector]:
    """The subscription expiry, when this gateway knows BC and the URL it subscribes."""
    from bc_gateway.subscription_metrics import SubscriptionExpiry

    if deps.bc is None or not settings.notification_url:
        return []
    return [SubscriptionExpiry(deps.bc, settings.notification_url)]
