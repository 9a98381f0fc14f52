"""bc-gateway: owns the Business Central API, its Entra ID token and its webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from bc_gateway.bootstrap import Dependencies
from bc_gateway.bootstrap import build_dependencies
from bc_gateway.settings import Settings
from mlconnector.web import configure_app
from mlconnector.web import health_blueprint


def create_app(
    test_config: Mapping[str, Any] | None = None, deps: Dependencies | None = None
) -> Flask:
    """Build the app; nothing connects to the broker until a request needs it."""
    app = Flask(__name__)
    settings = Settings.from_env()
    configure_app(app, max_body_bytes=settings.max_body_bytes)
    if test_config:
        app.config.from_mapping(test_config)
    dependencies = deps or build_dependencies(settings)
    app.extensions["bc_gateway"] = dependencies
    app.register_blueprint(
        health_blueprint(
            {
                "rabbitmq": dependencies.publisher.check,
                "secrets": dependencies.secret_store.check,
            },
            timeout=settings.common.readiness_timeout_s,
        )
    )
    return app
