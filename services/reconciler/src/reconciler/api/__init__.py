"""The reconciler's HTTP API: health now; records, audit trails and replay (issue 5) later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from mlconnector.db import check_database
from mlconnector.web import configure_app
from mlconnector.web import health_blueprint
from reconciler.bootstrap import Dependencies
from reconciler.bootstrap import build_dependencies
from reconciler.settings import Settings


def create_app(
    test_config: Mapping[str, Any] | None = None, deps: Dependencies | None = None
) -> Flask:
    """Build the API app; the database and the broker are reached only when a request needs them."""
    app = Flask(__name__)
    settings = Settings.from_env()
    configure_app(app, max_body_bytes=settings.max_body_bytes)
    if test_config:
        app.config.from_mapping(test_config)
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
    return app
