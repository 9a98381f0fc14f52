"""Flask helpers shared by every service: JSON errors, body limits, correlation ids, health.

Errors are typed exceptions raised anywhere and translated once, here, into
``{"error": {"code": ..., "message": ...}}`` with a precise status: ``ApiError`` as declared,
marshmallow ``ValidationError`` as 422 with the field errors, werkzeug ``HTTPException`` (413 for an
oversized body among them) with its own status, a body that stopped arriving as 408, and anything
unexpected as a generic 500 whose message cannot carry a secret. ``/healthz`` says the process is
alive; ``/readyz`` runs each named dependency check with a short timeout and reports each by name,
so an operator sees which one failed.

Every refusal (any 4xx answer, whoever produced it: a view, a guard, a rate limit, werkzeug) is
logged here, once, at WARNING: method, path without the query string, status, error code and
correlation id, plus a reason when the code that refused named one with ``note_refusal``. Nothing
else logs refusals at WARNING, so one refused request is one line; bodies, header values and
secrets are never part of it.
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
from flask import has_request_context
from flask import jsonify
from flask import request
from marshmallow import ValidationError
from werkzeug.exceptions import ClientDisconnected
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge

from mlconnector.client_socket import ClientTooSlow
from mlconnector.logging import new_correlation_id
from mlconnector.logging import reset_correlation_id
from mlconnector.logging import set_correlation_id
from mlconnector.redaction import redact
from mlconnector.redaction import redact_data

logger = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
# Marks a before_request hook that must stay ahead of hooks moved to the front later.
RUNS_FIRST = "mlc_runs_first"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
MAX_CORRELATION_ID = 64
_MAX_LOGGED_PATH = 256

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


def clean_correlation_id(incoming: str | None) -> str:
    """``incoming`` if it is a short, printable token; otherwise "" (the caller makes a new one).

    The id is logged and echoed, so it must not be an injection vector.
    """
    if incoming and len(incoming) <= MAX_CORRELATION_ID and incoming.isprintable():
        return incoming
    return ""


def note_refusal(reason: str, *, kind: str | None = None) -> None:
    """Name why this request is being refused; the one WARNING line for it will say so.

    ``reason`` is for operators: it must not contain the body, a header value or a secret
    (it is redacted anyway). ``kind`` is a short fixed token (``signature``, ``client_state``)
    that metrics count refusals by (``mlconnector.metrics_export``); without it they use the
    answer's error code. Outside a request it does nothing.
    """
    if has_request_context():
        g.refusal_reason = reason
        if kind is not None:
            g.refusal_kind = kind


def printable(text: str, limit: int = _MAX_LOGGED_PATH) -> str:
    """``text`` cut to ``limit`` characters with control characters replaced, fit for a log line."""
    cut = text[:limit] + ("..." if len(text) > limit else "")
    return "".join(ch if ch.isprintable() else "?" for ch in cut)


def _timed_out() -> tuple[Response, int]:
    """The 408 for a request whose body stopped arriving; the connection is not reused."""
    response, status = error_response(
        408, "request_timeout", "the request body did not arrive in time"
    )
    response.headers["Connection"] = "close"
    return response, status


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

    @app.errorhandler(ClientTooSlow)
    def _too_slow(exc: ClientTooSlow) -> tuple[Response, int]:
        note_refusal(str(exc))
        return _timed_out()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        cause = exc.__context__ if isinstance(exc, ClientDisconnected) else None
        if isinstance(cause, TimeoutError):
            # werkzeug wraps the socket's timeout (``ClientSocket``'s budget) in this 400: the
            # client did not disconnect, it stalled, and that is a 408.
            note_refusal(str(cause) or "the request body did not arrive in time")
            return _timed_out()
        if isinstance(cause, ValueError):
            # The server could not decode the body (``http_worker.MalformedBody``): still a 400,
            # but one that says so rather than blaming a disconnect.
            note_refusal(str(cause))
            return error_response(400, "bad_request", "the request body is malformed")
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
        cid = clean_correlation_id(request.headers.get(CORRELATION_HEADER))
        g.correlation_id = cid or new_correlation_id()
        g.correlation_token = set_correlation_id(g.correlation_id)

    # Hooks that reorder the app's hooks (the rate limiter's) keep this one first.
    setattr(_bind, RUNS_FIRST, True)

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


def _error_code(response: Response) -> str:
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return printable(code, 64) if isinstance(code, str) else "-"


def log_refusals(app: Flask) -> None:
    """Log every 4xx answer once at WARNING, with its correlation id (see the module docstring).

    An ``after_request`` hook sees every answer the app gives, including those of error handlers
    and of ``before_request`` guards, so no refusal depends on its author remembering to log.
    """

    @app.after_request
    def _log_refusal(response: Response) -> Response:
        status = response.status_code
        if not 400 <= status < 500:
            return response
        cid = g.get("correlation_id") or "-"
        code = _error_code(response)
        path = printable(request.path)
        reason = g.get("refusal_reason")
        logger.warning(
            "refused %s %s: %d %s (correlation id %s)%s",
            request.method,
            path,
            status,
            code,
            cid,
            f"; {printable(reason)}" if reason else "",
            extra={
                "http_method": request.method,
                "http_path": path,
                "http_status": status,
                "error_code": code,
                "correlation_id": cid,
            },
        )
        return response


def configure_app(app: Flask, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Body limit, JSON errors, correlation ids, refusal logs: every service app's baseline."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_error_handlers(app)
    install_correlation_ids(app)
    log_refusals(app)
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
