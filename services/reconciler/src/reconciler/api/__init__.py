"""The reconciler's HTTP API: health, records with their audit trails, replay, payouts.

``/healthz``, ``/readyz``, ``/openapi.json`` and ``/metrics`` are open (probes and Prometheus
carry no credentials; the metrics are aggregates, computed here from the database and the broker
by ``reconciler.metrics``); every other endpoint needs the bearer token from the secret store
(see ``reconciler.api.auth``). The API is for operators inside the cluster and must not be
exposed on the public ingress (reliability.md §6.7, API8).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from mlconnector.db import check_database
from mlconnector.metrics_export import install_metrics
from mlconnector.ratelimit import install_api_limits
from mlconnector.redaction import register_secrets
from mlconnector.web import configure_app
from mlconnector.web import health_blueprint
from reconciler.bootstrap import Dependencies
from reconciler.bootstrap import build_dependencies
from reconciler.settings import Settings


def create_app(
    test_config: Mapping[str, Any] | None = None, deps: Dependencies | None = None
) -> Flask:
    """Build the API app; the database and the broker are reached only when a request needs them."""
    app = Flask(__name__, static_folder=None)  # no files to serve, so no /static route
    settings = Settings.from_env()
    configure_app(app, max_body_bytes=settings.max_body_bytes)
    if test_config:
        app.config.from_mapping(test_config)
    install_api_limits(app, settings.common)
    dependencies = deps or build_dependencies(settings)
    app.extensions["reconciler"] = dependencies
    timeout = settings.common.readiness_timeout_s

    def database() -> None:
        if not check_database(dependencies.engine, timeout):
            raise RuntimeError("the database did not answer SELECT 1")

    app.register_blueprint(
        health_blueprint(
            {
                "database": database,
                "rabbitmq": dependencies.publisher.check,
                "secrets": dependencies.secret_store.check,
            },
            timeout=timeout,
        )
    )

    from reconciler.api import drift
    from reconciler.api import openapi
    from reconciler.api import payouts
    from reconciler.api import records
    from reconciler.api.auth import require_bearer_token
    from reconciler.metrics import QueueFigures
    from reconciler.metrics import RecordFigures

    # Dependencies built by tests skip load_service_secrets: register the token here as well.
    register_secrets(value for value in dependencies.secrets.values() if value)
    # The console (``/console``) signs people in itself and is guarded by its own checks.
    require_bearer_token(
        app,
        lambda: dependencies.secrets.get("replay_token"),
        open_blueprints=("health", "openapi", "metrics", "console"),
        own_guards={"/console": "console"},
    )
    # MLC_WEB_SERVES: in a cluster the JSON API and the console run as separate Deployments,
    # so the Ingress can reach the console's pods without the API being on them at all.
    if "api" in settings.web_serves:
        app.register_blueprint(records.bp)
        app.register_blueprint(payouts.bp)
        app.register_blueprint(drift.bp)
        app.register_blueprint(openapi.bp)
    from reconciler.console import install_console

    if "console" in settings.web_serves:
        install_console(app, dependencies, settings.console)
    install_metrics(
        app,
        collectors=[
            RecordFigures(dependencies.session_factory),
            QueueFigures(settings.common.amqp_url, settings.common.topology()),
        ],
    )
    return app
