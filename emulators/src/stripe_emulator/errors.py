"""Stripe's error envelope, raised as typed exceptions and translated once at the edge.

Views and domain code raise `StripeError`; `register_error_handlers` turns it (and werkzeug's
404/405, and any unexpected exception) into `{"error": {"type", "message", "code", "param",
...}}` JSON, because stripe-python raises `APIError` on a non-JSON body (stripe-api.md §3.3).
`stored=False` marks errors that happen before an endpoint starts executing (validation,
auth, rate limits): Stripe keeps no idempotent result for those (stripe-api.md §11).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask import g
from flask import request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

API_ERROR = "api_error"
CARD_ERROR = "card_error"
IDEMPOTENCY_ERROR = "idempotency_error"
INVALID_REQUEST = "invalid_request_error"


class StripeError(Exception):
    """An API error with Stripe's shape; `status` is the HTTP status code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        stored: bool = True,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.stored = stored
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def to_dict(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            body["code"] = self.code
            body["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            body["param"] = self.param
        body.update(self.extra)
        if request_id:
            body["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": body}


def resource_missing(label: str, object_id: str, param: str | None = None) -> StripeError:
    """404 `resource_missing`, e.g. "No such customer: 'cus_x'"."""
    return StripeError(404, f"No such {label}: '{object_id}'", code="resource_missing", param=param)


def param_missing(param: str) -> StripeError:
    return StripeError(
        400,
        f"Missing required param: {param}.",
        code="parameter_missing",
        param=param,
        stored=False,
    )


def param_unknown(param: str) -> StripeError:
    return StripeError(
        400,
        f"Received unknown parameter: {param}",
        code="parameter_unknown",
        param=param,
        stored=False,
    )


def param_invalid(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param, stored=False)


def invalid_transition(message: str, param: str | None = None) -> StripeError:
    """A state-machine violation (finalizing a paid invoice, voiding a draft, ...)."""
    return StripeError(400, message, code="status_transition_invalid", param=param)


def error_response(err: StripeError) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Flask response tuple for an error, remembering whether an idempotent replay may store it."""
    g.error_stored = err.stored
    return err.to_dict(getattr(g, "request_id", None)), err.status, err.headers


def register_error_handlers(app: Flask) -> None:
    """JSON envelopes for StripeError, werkzeug HTTP errors and unexpected exceptions."""

    @app.errorhandler(StripeError)
    def _stripe_error(err: StripeError) -> tuple[dict[str, Any], int, dict[str, str]]:
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[dict[str, Any], int, dict[str, str]]:
        if err.code in (404, 405):
            # Stripe answers 404 with this text for any unknown method/path pair.
            message = (
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/."
            )
            return error_response(StripeError(404, message, stored=False))
        return error_response(StripeError(err.code or 500, err.description or "Error"))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
        logger.exception("unexpected emulator error on %s %s", request.method, request.path)
        return error_response(
            StripeError(500, "An unknown error occurred", type_=API_ERROR, stored=True)
        )
