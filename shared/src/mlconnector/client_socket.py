"""Client sockets whose blocking reads share one time budget per request.

A gunicorn request thread reads a request with a plain blocking socket: a client that sends its
headers and one byte of a 100,000-byte body, then waits, holds the thread for as long as it
likes. ``ClientSocket`` is that same accepted socket with two changes, armed per request by the
worker (``mlconnector.http_worker``): in blocking mode every operation times out (so a write to a
client that stopped reading cannot hang either), and the time spent waiting in ``recv`` is
charged to a budget; once it is spent, ``recv`` raises ``ClientTooSlow``. The budget is a total,
not a per-read timeout, so a client trickling one byte every few seconds is cut off as surely as
one that sends nothing.

``ClientTooSlow`` is a ``TimeoutError``: gunicorn's body drain already treats a timeout as "close
the connection", and werkzeug turns an ``OSError`` from the body stream into
``ClientDisconnected``, which ``mlconnector.web`` answers with a 408.
"""

from __future__ import annotations

import socket
import time


class ClientTooSlow(TimeoutError):
    """The client did not deliver its request within the read budget."""


class ClientSocket(socket.socket):
    """An accepted client socket with a per-request read budget (see the module docstring)."""

    _io_timeout: float | None = None
    _budget: float | None = None
    _no_wait = False

    @classmethod
    def adopt(cls, sock: socket.socket) -> ClientSocket:
        """Take over ``sock``'s file descriptor (``sock`` is detached, not closed)."""
        blocking = sock.getblocking()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        socket.socket.setblocking(adopted, blocking)
        return adopted

    def start_request(self, budget_s: float) -> None:
        """Arm a budget of ``budget_s`` seconds of waiting for this request's bytes."""
        self._io_timeout = budget_s
        self._budget = budget_s
        self._no_wait = False

    def end_request(self) -> None:
        """Disarm: the connection goes back to the event loop, which never blocks on it."""
        self._io_timeout = None
        self._budget = None

    def stop_waiting(self) -> None:
        """From now on reads take what has arrived and never wait for more.

        For the close after a request: gunicorn's graceful close waits up to 2 s for the
        client's FIN, on the event loop, so a client that never closes would stall every
        other connection of the worker for that long.
        """
        self._no_wait = True

    def setblocking(self, flag: bool, /) -> None:
        """Blocking mode means "time out after the budget" while a request is armed."""
        if flag and self._io_timeout is not None:
            self.settimeout(self._io_timeout)
        else:
            super().setblocking(flag)

    def _too_slow(self) -> str:
        return f"the request did not arrive within {self._io_timeout or 0:g} s"

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        """``socket.recv``, charging the wait to the request's budget when one is armed."""
        budget = self._budget
        previous = self.gettimeout()
        if self._no_wait and previous != 0.0:
            self.settimeout(0.0)
            try:
                return super().recv(bufsize, flags)
            finally:
                self.settimeout(previous)
        if budget is None or previous == 0.0:
            return super().recv(bufsize, flags)
        if budget <= 0:
            raise ClientTooSlow(self._too_slow())
        wait = budget if previous is None else min(previous, budget)
        self.settimeout(wait)
        started = time.monotonic()
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            if wait < budget:
                raise  # the caller's own, shorter timeout (gunicorn's drain deadline)
            raise ClientTooSlow(self._too_slow()) from None
        finally:
            self._budget = budget - (time.monotonic() - started)
            self.settimeout(previous)
