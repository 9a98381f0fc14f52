"""Flask helpers shared by every service: JSON errors, body limits, correlation ids, health.

Errors are typed exceptions raised anywhere and translated once, here, into
``{"error": {"code": ..., "message": ...}}`` with a precise status: ``ApiError`` as declared,
marshmallow ``ValidationError`` as 422 with the field errors, werkzeug ``HTTPException`` (413 for an
oversized body among them) with its own status, and anything unexpected as a generic 500 whose
message cannot carry a secret. ``/healthz`` says the process is alive; ``/readyz`` runs each named
dependency check with a short timeout and reports each by name, so an operator sees which one
failed.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import g
from flask import jsonify
from flask import request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge

from mlconnector.logging import new_correlation_id
from mlconnector.logging import reset_correlation_id
from mlconnector.logging import set_correlation_id
from mlconnector.redaction import redact
from mlconnector.redaction import redact_data

logger = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
DEFAULT_MAX_BODY_BYTES = 256 * 1024

HealthCheck = Callable[[], object]


class ApiError(Exception):
    """An error with a stable machine code and an HTTP status, raised by views and services."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": redact(self.message)}
        if self.details:
            body["details"] = redact_data(self.details)
        return {"error": body}


def error_response(status: int, code: str, message: str, **details: Any) -> tuple[Response, int]:
    """Build the JSON error body every service uses."""
    body: dict[str, Any] = {"code": code, "message": redact(message)}
    if details:
        # Field errors can echo client input (an unknown field's name, for one): redact them too.
        body["details"] = redact_data(details)
    return jsonify({"error": body}), status


def register_error_handlers(app: Flask) -> None:
    """Translate every exception into the JSON error shape; nothing leaves as an HTML page."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status_code

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> tuple[Response, int]:
        return error_response(
            422, "validation_failed", "the request did not validate", fields=exc.messages
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response, status = error_response(status, code, exc.description or exc.name or "error")
        # Keep the headers the status needs (Allow on 405, Retry-After on 429/503, ...).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        # Log the traceback (the log handler redacts it); answer without any detail of it.
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; see the service log")


def install_correlation_ids(app: Flask) -> None:
    """Bind a correlation id per request (from the caller's header, or new) and echo it back."""

    @app.before_request
    def _bind() -> None:
        incoming = request.headers.get(CORRELATION_HEADER, "")
        # Accept only a short, plain token: the id is logged and must not be an injection vector.
        cid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else ""
        g.correlation_id = cid or new_correlation_id()
        g.correlation_token = set_correlation_id(g.correlation_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        cid = g.get("correlation_id")
        if cid:
            response.headers[CORRELATION_HEADER] = cid
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        token = g.pop("correlation_token", None)
        if token is not None:
            reset_correlation_id(token)


def _limit_streamed_bodies(app: Flask) -> None:
    """Answer 413 to a body without Content-Length (chunked) that exceeds the limit.

    Werkzeug checks a declared Content-Length itself, but a streamed body (gunicorn marks every
    request ``wsgi.input_terminated``) is only cut at the limit: ``get_data`` would hand the view
    a silently truncated body. Reading it here, cached for the view, tells the two apart.
    """

    @app.before_request
    def _check_streamed_body() -> None:
        limit = request.max_content_length
        if limit is None or request.content_length is not None:
            return
        if "wsgi.input_terminated" not in request.environ:
            return  # werkzeug gives the view an empty stream: nothing can be read past a limit
        data = request.get_data(cache=True)
        if len(data) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def configure_app(app: Flask, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Body limit, JSON errors and correlation ids: the baseline every service app gets."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_error_handlers(app)
    install_correlation_ids(app)
    _limit_streamed_bodies(app)  # after the id is bound, so a 413 carries it


def run_checks(checks: Mapping[str, HealthCheck], timeout: float) -> dict[str, dict[str, Any]]:
    """Run each check concurrently, each bounded by ``timeout`` seconds; report each by name."""
    results: dict[str, dict[str, Any]] = {}
    if not checks:
        return results
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(checks))
    try:
        started = time.monotonic()
        futures = {name: pool.submit(check) for name, check in checks.items()}
        for name, future in futures.items():
            remaining = max(0.0, timeout - (time.monotonic() - started))
            try:
                verdict = future.result(timeout=remaining)
                # A check may raise or answer False; both mean "not ready".
                results[name] = (
                    {"ok": False, "error": "check failed"} if verdict is False else {"ok": True}
                )
            except concurrent.futures.TimeoutError:
                results[name] = {"ok": False, "error": f"no answer within {timeout:g}s"}
            except Exception as exc:
                results[name] = {"ok": False, "error": redact(f"{type(exc).__name__}: {exc}")}
    finally:
        # Do not wait for a hung check: the probe must answer within its own deadline.
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def health_blueprint(checks: Mapping[str, HealthCheck], *, timeout: float = 2.0) -> Blueprint:
    """``/healthz`` (alive) and ``/readyz`` (every named dependency answered in time)."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> dict[str, object]:
        return {"status": "ok"}

    @bp.get("/readyz")
    def readyz() -> tuple[dict[str, object], int]:
        results = run_checks(checks, timeout)
        ready = all(r["ok"] for r in results.values())
        return {"status": "ready" if ready else "not_ready", "checks": results}, (
            200 if ready else 503
        )

    return bp
