"""A werkzeug request handler that keeps HTTP/1.1 connections open, as BC and Stripe do.

werkzeug's development server answers every request with ``Connection: close``, because
``http.server`` cannot skip a request body the application left unread. Real BC and Stripe
keep connections alive, and clients (requests, the Stripe SDK) pool them; closing each one
made every emulated call pay a new TCP connection, a new thread and, for BC, a TLS handshake,
which is load the connector never sees in production and which distorted the benchmarks.

This handler gives each request a length-limited input stream, drains what the application did
not read, hides the socket from werkzeug's own after-response drain (it would swallow the next
request), and drops werkzeug's ``Connection: close`` when the response is delimited (a
``Content-Length`` or chunked) and the client spoke HTTP/1.1 without asking to close.
An idle connection is closed after ``timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import io
import socket
from typing import IO
from typing import Any
from typing import cast

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream


class KeepAliveRequestHandler(WSGIRequestHandler):
    """Keep-alive, Nagle off, and an idle timeout; see the module docstring."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds an idle kept-alive connection waits for its next request
    _socket_file: Any = None
    _body: LimitedStream | None = None
    _delimited = False

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes (TLS records): without TCP_NODELAY the
        # second waits for the client's delayed ACK, about 15 ms per request on loopback.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        # An idle kept-alive connection reaching ``timeout`` is routine, not an error.
        if format.startswith("Request timed out"):
            return
        super().log_error(format, *args)

    def make_environ(self) -> Any:
        environ = super().make_environ()
        self._body = None
        self._delimited = False
        if environ.get("wsgi.input_terminated"):
            return environ  # a chunked request body: drained by nobody, so close afterwards
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return environ
        self._body = LimitedStream(cast("IO[bytes]", self.rfile), max(0, length))
        environ["wsgi.input"] = self._body
        environ["wsgi.input_terminated"] = True
        # After the response werkzeug discards whatever the socket has to read, which on a
        # kept-alive connection is the client's next request: it gets an empty file to read
        # from until ``run_wsgi`` returns.
        self._socket_file, self.rfile = self.rfile, io.BytesIO()
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        name = keyword.lower()
        if name == "content-length" or (name == "transfer-encoding" and "chunked" in value):
            self._delimited = True
        if name == "connection" and value.lower() == "close" and self._may_keep_alive():
            return
        super().send_header(keyword, value)

    def _may_keep_alive(self) -> bool:
        asked_to_close = "close" in (self.headers.get("Connection") or "").lower()
        return (
            self.request_version == "HTTP/1.1"
            and not asked_to_close
            and self._delimited
            and self._body is not None
        )

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            if self._socket_file is not None:
                self.rfile, self._socket_file = self._socket_file, None
        body = self._body
        if body is None:
            self.close_connection = True
            return
        try:
            body.exhaust()  # the next request line starts right after this body
        except OSError:
            self.close_connection = True
