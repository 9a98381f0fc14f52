"""A confirmed publisher with many confirms in flight, safe for threads and for gunicorn's fork.

Why not a ``BlockingConnection`` per thread: with confirms on, its ``basic_publish`` waits for
the broker's ack before returning, so each thread has one message in flight and the broker
confirms about 1,500 messages a second on this machine; with 16-32 in flight it confirms
8,000-14,000 (reliability.md §3.1). So each process has one I/O thread that owns one
``SelectConnection`` and its channel; no other thread ever touches them. Request threads append
a request to a queue, wake the I/O thread with ``add_callback_threadsafe`` (pika's one
thread-safe call; one wake-up per batch, not per message) and wait on their own future. The I/O
thread publishes every queued message, tags each with its delivery tag, and resolves futures as
acks arrive (``multiple=True`` acks resolve a range, in order, from an insertion-ordered map).

A ``basic.return`` (mandatory flag, no queue bound) arrives before the ack of the same message;
it is matched by the delivery tag carried in a header, never by message id, because the same
event id can be in flight twice when a sender retries. A returned, nacked, timed-out or
disconnected publish raises a ``PublishError``: the caller must not report success.

The connection is created lazily on the first publish and re-created after a fork (the PID is
checked on every call), so a publisher built before gunicorn forks its workers is still safe.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import pika
import pika.spec

from mlconnector.bus.errors import BrokerUnavailable
from mlconnector.bus.errors import BusError
from mlconnector.bus.errors import PublishNacked
from mlconnector.bus.errors import PublishTimeout
from mlconnector.bus.errors import Unroutable
from mlconnector.bus.params import connection_parameters
from mlconnector.bus.params import declare_topology
from mlconnector.bus.params import redacted_url
from mlconnector.bus.topology import Topology

logger = logging.getLogger(__name__)

TAG_HEADER = "x-mlc-publish-tag"


@dataclasses.dataclass
class _Request:
    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    future: concurrent.futures.Future[None]


class Publisher:
    """Publishes persistent, mandatory messages and waits for the broker's confirm."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str,
        topology: Topology | None = None,
        confirm_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        retry_connect_after_s: float = 1.0,
        client_name: str = "mlc-publisher",
    ) -> None:
        self._url = url
        self._exchange = exchange
        self._topology = topology
        self._confirm_timeout_s = confirm_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._retry_connect_after_s = retry_connect_after_s
        self._client_name = client_name
        self._declared = False
        self._reset()

    def _reset(self) -> None:
        """Fresh per-process state: nothing inherited from a parent process survives a fork."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._state = "idle"  # idle | connecting | open | failed | closed
        self._connection: Any = None
        self._channel: Any = None
        self._thread: threading.Thread | None = None
        self._pending: collections.deque[_Request] = collections.deque()
        self._inflight: collections.OrderedDict[int, concurrent.futures.Future[None]] = (
            collections.OrderedDict()
        )
        self._returned: set[int] = set()
        self._next_tag = 0
        self._drain_scheduled = False
        self._failed_until = 0.0
        self._last_error = "not connected yet"
        self._settled = threading.Condition(self._lock)

    # -- caller side ----------------------------------------------------------------------

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        correlation_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        exchange: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        """Publish and block until the broker confirmed; raise a ``PublishError`` otherwise."""
        future = self.publish_async(
            routing_key,
            body,
            message_id=message_id,
            correlation_id=correlation_id,
            headers=headers,
            content_type=content_type,
            exchange=exchange,
        )
        wait = self._confirm_timeout_s if timeout_s is None else timeout_s
        try:
            future.result(timeout=wait)
        except concurrent.futures.TimeoutError as exc:
            raise PublishTimeout(
                f"no confirm for message {message_id} within {wait:g}s; outcome unknown"
            ) from exc

    def publish_async(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        correlation_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        exchange: str | None = None,
    ) -> concurrent.futures.Future[None]:
        """Queue a publish; the future resolves on the confirm or fails with a PublishError."""
        if os.getpid() != self._pid:
            self._reset()
        properties = pika.BasicProperties(
            content_type=content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            correlation_id=correlation_id,
            timestamp=int(time.time()),
            headers=dict(headers or {}),
        )
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        request = _Request(exchange or self._exchange, routing_key, body, properties, future)
        with self._lock:
            if self._state == "closed":
                raise BusError("publisher is closed")
            if self._state == "failed":
                if time.monotonic() < self._failed_until:
                    raise BrokerUnavailable(f"broker unavailable: {self._last_error}")
                self._state = "idle"
            self._pending.append(request)
            if self._state == "idle":
                self._start_locked()
            elif self._state == "open":
                self._schedule_drain_locked()
        return future

    def check(self, timeout_s: float | None = None) -> None:
        """Readiness: connect if needed; ``BrokerUnavailable`` unless the channel is open."""
        if os.getpid() != self._pid:
            self._reset()
        deadline = time.monotonic() + (timeout_s or self._connect_timeout_s)
        with self._lock:
            if self._state == "failed" and time.monotonic() >= self._failed_until:
                self._state = "idle"
            if self._state == "idle":
                self._start_locked()
            while self._state == "connecting":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._settled.wait(remaining)
            if self._state != "open":
                raise BrokerUnavailable(f"broker unavailable: {self._last_error}")

    def close(self, timeout_s: float = 5.0) -> None:
        """Close the connection; queued or unconfirmed publishes fail with BrokerUnavailable."""
        if os.getpid() != self._pid:
            self._reset()
        with self._lock:
            self._state = "closed"
            connection, thread = self._connection, self._thread
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close_connection)
            except Exception:  # the loop is already gone
                logger.debug("publisher loop already stopped")
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._fail_all("publisher closed")

    # -- I/O thread -----------------------------------------------------------------------

    def _start_locked(self) -> None:
        self._state = "connecting"
        self._thread = threading.Thread(target=self._run, name="mlc-publisher-io", daemon=True)
        self._thread.start()

    def _schedule_drain_locked(self) -> None:
        if self._drain_scheduled or self._connection is None:
            return
        self._drain_scheduled = True
        self._connection.ioloop.add_callback_threadsafe(self._drain)

    def _run(self) -> None:
        params = connection_parameters(
            self._url,
            connect_timeout_s=self._connect_timeout_s,
            client_name=self._client_name,
        )
        try:
            if self._topology is not None and not self._declared:
                declare_topology(self._url, self._topology.declare)
                self._declared = True
            connection = pika.SelectConnection(
                params,
                on_open_callback=self._on_connection_open,
                on_open_error_callback=self._on_connection_open_error,
                on_close_callback=self._on_connection_closed,
            )
        except Exception as exc:
            self._fail(f"cannot connect to {redacted_url(self._url)}: {exc!r}", retry=True)
            return
        with self._lock:
            self._connection = connection
        try:
            connection.ioloop.start()
        finally:
            # Releases the loop's wake-up socket pair; without it every reconnect leaks two fds.
            connection.ioloop.close()

    def _on_connection_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_open_error(self, connection: Any, error: Exception) -> None:
        self._fail(f"cannot connect to {redacted_url(self._url)}: {error!r}", retry=True)
        connection.ioloop.stop()

    def _on_connection_closed(self, connection: Any, reason: Exception) -> None:
        self._fail(f"connection closed: {reason!r}", retry=False)
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        with self._lock:
            self._channel = channel
            self._next_tag = 0
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Any) -> None:
        with self._lock:
            if self._state == "connecting":
                self._state = "open"
                self._last_error = ""
            self._settled.notify_all()
        self._drain()

    def _on_channel_closed(self, _channel: Any, reason: Exception) -> None:
        # A channel error (e.g. a missing exchange) closes only the channel; drop the whole
        # connection so the next publish starts clean rather than half-open.
        connection = self._connection
        self._fail(f"channel closed: {reason!r}", retry=False)
        if connection is not None and connection.is_open:
            connection.close()

    def _close_connection(self) -> None:
        connection = self._connection
        if connection is not None and (connection.is_open or connection.is_opening):
            connection.close()

    def _drain(self) -> None:
        with self._lock:
            self._drain_scheduled = False
            if self._state != "open" or self._channel is None:
                return
            requests = list(self._pending)
            self._pending.clear()
            channel = self._channel
            for request in requests:
                self._next_tag += 1
                self._inflight[self._next_tag] = request.future
                request.properties.headers[TAG_HEADER] = self._next_tag
        for request in requests:
            try:
                channel.basic_publish(
                    request.exchange,
                    request.routing_key,
                    request.body,
                    request.properties,
                    mandatory=True,
                )
            except Exception as exc:
                # The channel is gone; its close callback fails everything still in flight.
                logger.warning("publish failed on a closing channel: %r", exc)
                break

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        tag = (properties.headers or {}).get(TAG_HEADER)
        if isinstance(tag, int):
            with self._lock:
                self._returned.add(tag)
        logger.warning(
            "broker returned an unroutable message (exchange=%s routing_key=%s: %s)",
            method.exchange,
            method.routing_key,
            method.reply_text,
        )

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        outcomes: list[tuple[concurrent.futures.Future[None], BaseException | None]] = []
        with self._lock:
            tags: list[int]
            if method.multiple:
                tags = [t for t in self._inflight if t <= method.delivery_tag]
            else:
                tags = [method.delivery_tag] if method.delivery_tag in self._inflight else []
            for tag in tags:
                future = self._inflight.pop(tag)
                error: BaseException | None = None
                if tag in self._returned:
                    self._returned.discard(tag)
                    error = Unroutable("no queue is bound for this message's routing key")
                elif not acked:
                    error = PublishNacked("the broker refused the message (basic.nack)")
                outcomes.append((future, error))
        for future, error in outcomes:
            _settle(future, error)

    def _fail(self, reason: str, *, retry: bool) -> None:
        """Mark the connection failed and fail every queued and unconfirmed publish."""
        with self._lock:
            closing = self._state == "closed"
            if not closing:
                self._state = "failed"
                self._failed_until = time.monotonic() + (
                    self._retry_connect_after_s if retry else 0.0
                )
            self._last_error = reason
            self._connection = None
            self._channel = None
            self._settled.notify_all()
        logger.log(logging.DEBUG if closing else logging.WARNING, "publisher: %s", reason)
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            futures = [r.future for r in self._pending] + list(self._inflight.values())
            self._pending.clear()
            self._inflight.clear()
            self._returned.clear()
        for future in futures:
            _settle(future, BrokerUnavailable(f"{reason}; outcome unknown, publish again"))


def _settle(future: concurrent.futures.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
