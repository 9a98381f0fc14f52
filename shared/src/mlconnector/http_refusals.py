"""How the serving worker answers what gunicorn refuses before the application runs.

gunicorn answers a request it cannot parse (headers too large, a request line too long, a NUL in
a header, broken chunked framing...) with an HTML page of its own, and its log line quotes the
offending line or header. ``refusal_for`` maps each of its parse errors to a status and a fixed
message, and ``json_error`` renders the answer in the services' JSON error shape with an
``X-Correlation-Id``, as ``mlconnector.web`` renders the application's own errors. Codes are
named from werkzeug's status table, as ``mlconnector.web`` names werkzeug's errors, so a 431 is
``request_header_fields_too_large`` whichever layer refused.

``GuardedBody`` covers the parse errors gunicorn raises later, while the application reads a
chunked body: as ``MalformedBody`` (a ``ValueError``) werkzeug reports them as a client error
instead of letting them become a 500.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Iterator
from typing import Any

from gunicorn.http import errors as http_errors  # type: ignore[import-untyped]
from werkzeug.http import HTTP_STATUS_CODES

from mlconnector.client_socket import ClientTooSlow
from mlconnector.web import CORRELATION_HEADER

SERVER_FAULT = 500

# gunicorn's parse errors, most specific first: (exception classes, status, message). The
# messages are fixed: gunicorn's own quote the offending request line or header.
_REFUSALS: tuple[tuple[tuple[type[BaseException], ...], int, str], ...] = (
    (
        (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName),
        SERVER_FAULT,
        "",
    ),
    ((http_errors.ConfigurationProblem,), SERVER_FAULT, ""),
    ((http_errors.LimitRequestHeaders,), 431, "the request headers are too large"),
    ((http_errors.LimitRequestLine,), 414, "the request line is too long"),
    ((http_errors.ExpectationFailed,), 417, "only 'Expect: 100-continue' is supported"),
    ((http_errors.UnsupportedTransferCoding,), 501, "the transfer coding is not supported"),
    ((http_errors.ForbiddenProxyRequest,), 403, "proxy requests are not allowed from here"),
    ((ClientTooSlow,), 408, "the request did not arrive in time"),
    (
        (
            http_errors.InvalidRequestLine,
            http_errors.InvalidRequestMethod,
            http_errors.InvalidHTTPVersion,
        ),
        400,
        "the request line is malformed",
    ),
    (
        (http_errors.InvalidHeader, http_errors.InvalidHeaderName, http_errors.ObsoleteFolding),
        400,
        "a request header is malformed",
    ),
    (
        (
            http_errors.InvalidChunkSize,
            http_errors.ChunkMissingTerminator,
            http_errors.InvalidChunkExtension,
        ),
        400,
        "the chunked body is malformed",
    ),
    (
        (
            http_errors.InvalidProxyLine,
            http_errors.InvalidSchemeHeaders,
            http_errors.InvalidH2CPreface,
        ),
        400,
        "the request is malformed",
    ),
    ((ssl.SSLError,), 400, "the TLS handshake failed"),
)


def refusal_for(exc: BaseException) -> tuple[int, str]:
    """``(status, message)`` for a request gunicorn could not parse; 500 for our own faults."""
    for classes, status, message in _REFUSALS:
        if isinstance(exc, classes):
            return status, message
    return SERVER_FAULT, ""


def error_code(status: int) -> str:
    """The JSON error code for a status, as ``mlconnector.web`` names werkzeug's errors."""
    if status == SERVER_FAULT:
        return "internal_error"
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")


def json_error(status: int, message: str, correlation_id: str) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response in the services' JSON error shape."""
    if status == SERVER_FAULT:
        message = "internal error; see the service log"
    body = json.dumps({"error": {"code": error_code(status), "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTP_STATUS_CODES.get(status, 'Error')}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{CORRELATION_HEADER}: {correlation_id}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class MalformedBody(ValueError):
    """The request body's framing (its chunked encoding) is broken; the client's fault."""


class GuardedBody:
    """``wsgi.input`` whose framing errors are ``MalformedBody`` instead of gunicorn's own."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int | None = None) -> bytes:
        with _framing_errors():
            data: bytes = self._body.read(size)
        return data

    def readline(self, size: int | None = None) -> bytes:
        with _framing_errors():
            data: bytes = self._body.readline(size)
        return data

    def readlines(self, size: int | None = None) -> list[bytes]:
        with _framing_errors():
            lines: list[bytes] = self._body.readlines(size)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


@contextlib.contextmanager
def _framing_errors() -> Iterator[None]:
    try:
        yield
    except http_errors.ParseException as exc:
        raise MalformedBody(f"the request body is malformed ({type(exc).__name__})") from None
