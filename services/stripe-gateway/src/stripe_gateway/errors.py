"""The gateway's command-API errors and their single translation to HTTP (style.md §3.4).

Services raise ``StripeCallError`` (from the adapter, already classified by ``stripe_errors``)
or the domain errors below; this module turns them into the shared JSON error shape with a
stable ``code``: ``stripe_unavailable`` (503, with ``Retry-After``) for anything worth retrying,
``stripe_rejected`` (422) when Stripe refused the request, ``not_found`` (404),
``total_mismatch`` (409), ``idempotency_conflict`` (409), ``stripe_credentials_rejected`` /
``stripe_permission_denied`` (502: the gateway's own key is the problem, not the caller's
request, and an operator fixing it makes the caller's retries succeed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import Response
from flask import jsonify

from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.stripe_errors import Disposition
from stripe_gateway.stripe_errors import error_code
from stripe_gateway.webhook_secrets import SecretsUnavailable


class RetryLater(ApiError):
    """A 503-style error that tells the caller when to come back."""

    status_code = 503
    code = "stripe_unavailable"

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float,
        status_code: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, details=details)
        self.retry_after_s = retry_after_s


class TotalMismatch(ApiError):
    """Stripe's invoice total differs from the expected one; the invoice is left in draft."""

    status_code = 409
    code = "total_mismatch"

    def __init__(self, *, expected_minor: int, actual_minor: int, source: str, **details: Any):
        super().__init__(
            f"total mismatch: expected {expected_minor} minor units, {source} is {actual_minor}; "
            "the invoice was not finalized",
            details={
                "expected_total_minor": expected_minor,
                "actual_total_minor": actual_minor,
                "source": source,
                **details,
            },
        )


def translate(exc: StripeCallError) -> ApiError:
    """The API error for a classified Stripe failure."""
    case = exc.verdict.case
    details = {
        "stripe_case": case.name,
        "stripe_code": error_code(exc.error),
        "stripe_param": getattr(exc.error, "param", None),
        "stripe_request_id": exc.request_id,
    }
    details = {k: v for k, v in details.items() if v is not None}
    message = (
        f"Stripe {exc.operation} failed ({case.name}): {exc.error.user_message or 'no message'}"
    )
    if case.disposition is Disposition.RETRYABLE:
        return RetryLater(
            message,
            retry_after_s=exc.verdict.retry_after_s,
            status_code=case.api_status,
            code=case.api_code,
            details=details,
        )
    return ApiError(message, status_code=case.api_status, code=case.api_code, details=details)


def _with_retry_after(exc: RetryLater) -> tuple[Response, int]:
    response = jsonify(exc.to_dict())
    response.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    return response, exc.status_code


def register_error_handlers(app: Flask) -> None:
    """Handlers for the gateway's own errors (the shared ones come from ``configure_app``)."""

    @app.errorhandler(RetryLater)
    def _retry_later(exc: RetryLater) -> tuple[Response, int]:
        return _with_retry_after(exc)

    @app.errorhandler(StripeCallError)
    def _stripe_call(exc: StripeCallError) -> tuple[Response, int]:
        error = translate(exc)
        if isinstance(error, RetryLater):
            return _with_retry_after(error)
        return jsonify(error.to_dict()), error.status_code

    @app.errorhandler(SecretsUnavailable)
    def _secrets(exc: SecretsUnavailable) -> tuple[Response, int]:
        return _with_retry_after(
            RetryLater(
                "the secret store is unavailable", retry_after_s=5, code="secrets_unavailable"
            )
        )
