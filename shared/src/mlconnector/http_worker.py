"""The gunicorn worker the services run: ``gthread``, hardened at the edge against slow clients.

Stock ``gthread`` (gunicorn 27) gives a connection to a request thread as soon as its first byte
arrives, and the thread then reads headers and body with a blocking socket and no timeout. Nine
connections that send headers announcing 100,000 bytes, one byte of body, and wait, hold nine
threads for as long as they like; every genuine webhook queues behind them. Three changes:

1. **Requests are received in the event loop.** A connection is watched by the worker's poller
   (the one gunicorn already runs for kept-alive connections) and its bytes are buffered until
   ``mlconnector.http_framing.Framer`` says the request is whole; only then does a thread take
   it, with everything already in memory. A stalled client costs a file descriptor and a buffer,
   never a thread, so any number of them leave the threads to real requests. It has
   ``ClientLimits.read_timeout_s`` to complete its request; then it gets a JSON 408 and is
   disconnected. An ``Expect: 100-continue`` is answered from the loop so that such clients send
   their body to the buffer too (gunicorn sends its own 100 later; HTTP allows several).
2. **Threads never wait on a client for long.** What a thread still reads from the socket (a body
   larger than ``ClientLimits.buffer_bytes``, a body the application left unread) goes through
   ``mlconnector.client_socket.ClientSocket``, whose reads share one budget per request. When a
   thread closes a connection it does not linger for the client's FIN either (gunicorn's graceful
   close would wait up to 2 s for it on the event loop itself).
3. **gunicorn's own refusals speak JSON.** ``handle_error`` answers 431, 414, 400 and friends
   in the services' JSON error shape with an ``X-Correlation-Id`` (``mlconnector.http_refusals``)
   and logs each once at WARNING without header values; ``wsgi.input`` is wrapped so that broken
   chunked framing found while the application reads the body is a 400, not a 500.

TLS and HTTP/2 connections (neither is configured: TLS ends at the ingress) are served exactly as
``gthread`` serves them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import selectors
import socket
import time
from typing import Any

from gunicorn import http  # type: ignore[import-untyped]
from gunicorn import util
from gunicorn.http.wsgi import Response  # type: ignore[import-untyped]
from gunicorn.http.wsgi import default_environ
from gunicorn.http2 import negotiation  # type: ignore[import-untyped]
from gunicorn.workers.gthread import ThreadWorker  # type: ignore[import-untyped]
from werkzeug.http import HTTP_STATUS_CODES

from mlconnector.client_socket import ClientSocket
from mlconnector.http_framing import Framer
from mlconnector.http_framing import Limits
from mlconnector.http_refusals import SERVER_FAULT
from mlconnector.http_refusals import GuardedBody
from mlconnector.http_refusals import error_code
from mlconnector.http_refusals import json_error
from mlconnector.http_refusals import refusal_for
from mlconnector.logging import correlation_scope
from mlconnector.logging import new_correlation_id
from mlconnector.serving import ClientLimits
from mlconnector.web import CORRELATION_HEADER
from mlconnector.web import clean_correlation_id
from mlconnector.web import printable

_RECV_SIZE = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def head_limit(cfg: Any) -> int:
    """Head bytes past which gunicorn's parser refuses by itself (its own arithmetic)."""
    fields = cfg.limit_request_fields if 0 < cfg.limit_request_fields <= 32768 else 32768
    field_size = cfg.limit_request_field_size if cfg.limit_request_field_size > 0 else 8190
    line = cfg.limit_request_line if cfg.limit_request_line > 0 else 8190
    return line + 2 + fields * (field_size + 2) + 8


@dataclasses.dataclass
class _Arriving:
    """A connection whose request is still arriving, watched by the event loop."""

    framer: Framer
    deadline: float
    continued: bool = False


class EdgeWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    """``gthread`` that receives requests before it spends a thread on them (module docstring)."""

    wsgi: Any  # set by gunicorn's load_wsgi

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_limits = ClientLimits.from_env()
        self.framing = Limits(
            max_head=head_limit(self.cfg), max_body=self.client_limits.buffer_bytes
        )
        # Insertion order is deadline order: every entry gets the same timeout when added.
        self.arriving: dict[Any, _Arriving] = {}

    def load_wsgi(self) -> None:
        """Load the application, behind the ``wsgi.input`` guard (module docstring)."""
        super().load_wsgi()
        application = self.wsgi

        def guarded(environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("wsgi.input") is not None:
                environ["wsgi.input"] = GuardedBody(environ["wsgi.input"])
            return application(environ, start_response)

        self.wsgi = guarded

    # -- receiving in the event loop --------------------------------------------------------

    def enqueue_req(self, conn: Any) -> None:
        """Every path to a thread (new, kept-alive, pipelined) passes here: buffer first."""
        if self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            super().enqueue_req(conn)
            return
        if not isinstance(conn.sock, ClientSocket):
            conn.sock = ClientSocket.adopt(conn.sock)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        framer = Framer(self.framing)
        if framer.feed(conn.parser.unreader.take_buffered()):
            self._dispatch(conn, framer)
            return
        conn.sock.setblocking(False)
        deadline = time.monotonic() + self.client_limits.read_timeout_s
        self.arriving[conn] = _Arriving(framer, deadline)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, functools.partial(self._on_readable, conn)
        )

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        arriving = self.arriving.get(conn)
        if arriving is None:  # forgotten earlier in this round of events
            return
        try:
            data = conn.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before finishing its request
            self._forget(conn)
            self._close(conn)
            return
        if arriving.framer.feed(data):
            self._forget(conn)
            self._dispatch(conn, arriving.framer)
        elif arriving.framer.expects_continue and not arriving.continued:
            arriving.continued = True
            _send_quietly(conn.sock, _CONTINUE)

    def _dispatch(self, conn: Any, framer: Framer) -> None:
        conn.parser.unreader.unread(framer.take())
        conn.data_ready = True  # gthread must not wait for "first data" in the thread
        super().enqueue_req(conn)

    def _forget(self, conn: Any) -> None:
        del self.arriving[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _close(self, conn: Any) -> None:
        self.nr_conns -= 1
        _close_without_waiting(conn.sock)

    def murder_pending(self) -> None:
        """gunicorn's periodic sweep; also times out requests that are too slow to arrive."""
        super().murder_pending()
        now = time.monotonic()
        while self.arriving:
            conn, arriving = next(iter(self.arriving.items()))
            if arriving.deadline > now:
                break
            self._forget(conn)
            if arriving.framer.received:
                self._time_out(conn, arriving.framer)
            self._close(conn)

    def _time_out(self, conn: Any, framer: Framer) -> None:
        cid = new_correlation_id()
        what = printable(framer.describe()) or "a request"
        with correlation_scope(cid):
            self.log.warning(
                "refused %s from %s: 408 request_timeout (correlation id %s); "
                "%d bytes arrived within %g s",
                what,
                _peer(conn.client),
                cid,
                framer.received,
                self.client_limits.read_timeout_s,
                extra={"http_status": 408, "error_code": "request_timeout"},
            )
        _send_quietly(conn.sock, json_error(408, "the request did not arrive in time", cid))

    # -- request threads ---------------------------------------------------------------------

    def handle(self, conn: Any) -> Any:
        """gthread's handler, with the socket's read budget armed for this request."""
        sock = conn.sock if isinstance(conn.sock, ClientSocket) else None
        if sock is None:
            return super().handle(conn)
        sock.start_request(self.client_limits.read_timeout_s)
        try:
            keep_alive = super().handle(conn)
        finally:
            sock.end_request()
        if keep_alive is False:
            sock.stop_waiting()  # the close that follows runs on the event loop
        return keep_alive

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's error page, as a JSON error with a correlation id (module docstring)."""
        started = dt.datetime.now()
        status, message = refusal_for(exc)
        cid = _correlation_id_of(req) or new_correlation_id()
        what = _describe(req) or "a request"
        with correlation_scope(cid):
            if status == SERVER_FAULT:
                self.log.exception("error handling %s (correlation id %s)", what, cid)
            else:
                self.log.warning(
                    "refused %s from %s: %d %s (correlation id %s); %s",
                    what,
                    _peer(addr),
                    status,
                    error_code(status),
                    cid,
                    type(exc).__name__,
                    extra={"http_status": status, "error_code": error_code(status)},
                )
        data = json_error(status, message, cid)
        if req is not None:
            self._log_access(req, client, addr, status, len(data), started)
        try:
            util.write_nonblock(client, data)
        except Exception:  # the client may be gone already; nothing else to tell it
            self.log.debug("could not send the error response")

    def _log_access(
        self, req: Any, client: Any, addr: Any, status: int, length: int, started: dt.datetime
    ) -> None:
        try:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = _peer(addr), str(_port_of(addr))
            resp = Response(req, client, self.cfg)
            resp.status = f"{status} {HTTP_STATUS_CODES.get(status, 'Error')}"
            resp.response_length = length
            self.log.access(resp, req, environ, dt.datetime.now() - started)
        except Exception:  # a half-parsed request may lack what the access line needs
            self.log.debug("no access log line for a refused request")


def _correlation_id_of(req: Any) -> str:
    for name, value in getattr(req, "headers", None) or ():
        if name == CORRELATION_HEADER.upper():
            return clean_correlation_id(value)
    return ""


def _describe(req: Any) -> str:
    method, path = getattr(req, "method", None), getattr(req, "path", None)
    return printable(f"{method} {path}") if method and path is not None else ""


def _peer(addr: Any) -> str:
    return str(addr[0]) if isinstance(addr, tuple) and addr else "a unix socket"


def _port_of(addr: Any) -> int:
    return int(addr[1]) if isinstance(addr, tuple) and len(addr) > 1 else -1


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    """A small write from the event loop: never blocks, gives up on any error."""
    with contextlib.suppress(OSError):
        sock.send(data)


def _close_without_waiting(sock: socket.socket) -> None:
    """Close after discarding what the client already sent (a close with unread bytes would
    reset the connection and could destroy an answer in flight), without waiting for more."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        for _ in range(16):
            if not sock.recv(_RECV_SIZE):
                break
    except OSError:
        pass
    finally:
        util.close(sock)
