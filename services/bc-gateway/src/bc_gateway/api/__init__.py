"""HTTP edge of bc-gateway: blueprints, and the one place BC failures become JSON errors.

Views raise; ``register_error_handlers`` translates (style.md §3.4). The command API's codes are
stable: ``bc_unavailable`` (503 with ``Retry-After``: retryable BC errors, token and
configuration problems), ``bc_rejected`` (422 with BC's code and message: BC refused the
request), ``not_found`` (404), ``validation_failed`` (422, from marshmallow), ``invalid_json``
(400: the body is not JSON, or is hostile JSON such as a document nested too deep), plus the
gateway's own refusals (``rejections.Rejected``). The webhook view does not rely on these
handlers: it maps every internal failure to 503 itself, because BC deletes a subscription on any
4xx.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.bc_errors import BCNotFound
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.bc_errors import BCRetryableError
from bc_gateway.adapters.token import TokenError
from bc_gateway.bootstrap import Dependencies
from bc_gateway.rejections import Rejected
from mlconnector.config import ConfigError
from mlconnector.jsonbody import request_json
from mlconnector.web import error_response

EXTENSION = "bc_gateway"
DEFAULT_RETRY_AFTER_S = 5


def dependencies() -> Dependencies:
    """The app's dependencies (built by ``bootstrap``)."""
    deps: Dependencies = current_app.extensions[EXTENSION]
    return deps


def bc_client() -> BCClient:
    """The BC client, or a ConfigError (503) when the BC connection is not configured."""
    deps = dependencies()
    if deps.bc is None:
        deps.settings.require_bc()
    assert deps.bc is not None
    return deps.bc


def json_body() -> Any:
    """The request body as JSON with exact decimals (never a float for an amount).

    An empty body is ``{}`` (the schema then names the missing fields); a body that is not
    acceptable JSON is a 400 ``invalid_json`` with the reason (``mlconnector.jsonbody``).
    """
    if not request.get_data(cache=True).strip():
        return {}
    return request_json(parse_float=Decimal)


def _retry_after(response: Response, seconds: float | None) -> Response:
    response.headers["Retry-After"] = str(max(1, math.ceil(seconds or DEFAULT_RETRY_AFTER_S)))
    return response


def _bc_details(exc: BCError) -> dict[str, Any]:
    return {"bc_status": exc.status, "bc_code": exc.code, "bc_message": exc.message}


def register_error_handlers(app: Flask) -> None:
    """Translate BC, token, configuration and gateway refusals into the JSON error shape."""

    @app.errorhandler(Rejected)
    def _rejected(exc: Rejected) -> tuple[Response, int]:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(BCError)
    def _bc_error(exc: BCError) -> tuple[Response, int]:
        if isinstance(exc, BCNotFound):
            return error_response(404, "not_found", exc.message, **_bc_details(exc))
        if isinstance(exc, BCPermanentError):
            return error_response(422, "bc_rejected", exc.message, **_bc_details(exc))
        if isinstance(exc, BCRetryableError):
            response, status = error_response(
                503, "bc_unavailable", f"BC is unavailable: {exc.message}", **_bc_details(exc)
            )
            return _retry_after(response, exc.retry_after_s), status
        return error_response(502, "bc_unexpected", exc.message, **_bc_details(exc))

    @app.errorhandler(TokenError)
    def _token_error(exc: TokenError) -> tuple[Response, int]:
        response, status = error_response(
            503, "bc_unavailable", f"no BC access token: {exc}", aadsts=exc.aadsts
        )
        return _retry_after(response, None), status

    @app.errorhandler(ConfigError)
    def _config_error(exc: ConfigError) -> tuple[Response, int]:
        response, status = error_response(
            503, "bc_unavailable", "the BC connection is not configured", problems=exc.problems
        )
        return _retry_after(response, None), status


def ok(body: dict[str, Any], status: int = 200) -> tuple[Response, int]:
    """A JSON success response."""
    return jsonify(body), status
