"""Typed errors and their translation into BC's and Entra's error bodies.

Views and business code ``raise BCError(...)``; the handlers registered here turn it into BC's
envelope ``{"error": {"code", "message"}}`` whose message ends with two spaces, ``CorrelationId:``,
two spaces, the request's correlation GUID and a full stop (bc-api.md §6.4). Every response --
unknown routes and Werkzeug's own 404/405 included -- uses that envelope, because clients parse
it. Token-endpoint errors use Entra's shape instead (:class:`EntraError`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask import has_request_context
from flask import request
from werkzeug.exceptions import HTTPException

from bc_emulator import jsonio


class BCError(Exception):
    """An error BC would return: HTTP status, BC error code, message without the correlation."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def dialog(message: str) -> BCError:
    """An AL ``Error(...)``: 400 ``Application_DialogException``."""
    return BCError(400, "Application_DialogException", message)


def not_found(caption: str, key: str) -> BCError:
    """GET/PATCH/DELETE of a key that does not exist (404 expected, bc-api.md §12)."""
    return BCError(
        404,
        "Internal_RecordNotFound",
        f"The {caption} does not exist. Identification fields and values: Id='{key}'",
    )


def bad_request(message: str, code: str = "BadRequest") -> BCError:
    """A malformed request (400)."""
    return BCError(400, code, message)


def segment_not_found(segment: str) -> BCError:
    """An unknown entity set, navigation or bound action in the URL."""
    return BCError(
        404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{segment}'."
    )


class EntraError(Exception):
    """An error from the Entra-style token endpoint (AADSTS code, OAuth ``error`` string)."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description


def correlation_id() -> str:
    """The current request's correlation GUID (created on first use)."""
    if not has_request_context():
        return str(uuid.uuid4())
    if "correlation_id" not in g:
        g.correlation_id = str(uuid.uuid4())
    cid: str = g.correlation_id
    return cid


def bc_error_response(error: BCError) -> Response:
    """Render a :class:`BCError` as BC's JSON envelope."""
    body = {
        "error": {
            "code": error.code,
            "message": f"{error.message}  CorrelationId:  {correlation_id()}.",
        }
    }
    response = Response(jsonio.dumps(body), status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


@dataclass(frozen=True)
class EntraTrace:
    """The diagnostics Entra attaches to every error: trace id, correlation id, timestamp."""

    trace_id: str
    correlation_id: str
    timestamp: str

    def describe(self, aadsts: int, description: str) -> str:
        """``AADSTSnnn: <text> Trace ID: ... Correlation ID: ... Timestamp: ...``."""
        return (
            f"AADSTS{aadsts}: {description} Trace ID: {self.trace_id} "
            f"Correlation ID: {self.correlation_id} Timestamp: {self.timestamp}"
        )


def entra_trace() -> EntraTrace:
    """Fresh diagnostics for the current request (the token endpoint and the sign-in pages)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return EntraTrace(str(uuid.uuid4()), correlation_id(), stamp)


def entra_error_response(error: EntraError) -> Response:
    """Render an :class:`EntraError` as Entra ID does (AADSTS text, trace and correlation ids)."""
    trace = entra_trace()
    body: dict[str, Any] = {
        "error": error.error,
        "error_description": trace.describe(error.aadsts, error.description),
        "error_codes": [error.aadsts],
        "timestamp": trace.timestamp,
        "trace_id": trace.trace_id,
        "correlation_id": trace.correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.aadsts}",
    }
    return Response(jsonio.dumps(body), status=error.status, mimetype="application/json")


_HTTP_CODES = {
    404: "BadRequest_NotFound",
    405: "BadRequest_MethodNotAllowed",
    413: "RequestEntityTooLarge",
}


def _http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        message = f"No HTTP resource was found that matches the request URI '{request.url}'."
    elif status == 405:
        message = f"'{request.method}' requests are not allowed for this resource."
    else:
        message = exc.description or exc.name
    return bc_error_response(BCError(status, _HTTP_CODES.get(status, "BadRequest"), message))


def register_error_handlers(app: Flask) -> None:
    """Install the BC / Entra error translations on the app."""
    app.register_error_handler(BCError, bc_error_response)
    app.register_error_handler(EntraError, entra_error_response)
    app.register_error_handler(HTTPException, _http_exception)

    @app.after_request
    def _correlation_headers(response: Response) -> Response:
        cid = correlation_id()
        response.headers.setdefault("request-id", cid)
        response.headers.setdefault("ms-correlation-x", cid)
        return response
