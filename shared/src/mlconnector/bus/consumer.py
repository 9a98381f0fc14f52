"""The consumer runner: manual acks after the handler committed, retries, dead letters, restarts.

One ``BlockingConnection`` per process, owned by the thread that calls ``run()``. Handlers run in a
small worker pool, because a BC or Stripe call can outlast the heartbeat interval and a
``BlockingConnection`` only services heartbeats while that thread is inside pika
(reliability.md §3.7). A worker never touches the channel: when its handler returns (after it
committed its own effects) it asks the connection thread, through ``add_callback_threadsafe``,
to settle the delivery:

- success: ``basic_ack``;
- ``TransientError`` or an unexpected exception: a copy goes to a delayed-retry wait queue with
  exponential backoff and jitter (published with a confirm), and only then is the original acked;
  after ``max_retries`` it is dead-lettered instead (``max_retries=None`` leaves that decision to
  the handler, which then counts its message's failures itself and raises ``PermanentError``);
- ``RetryLater``: the same delayed copy after the handler's own delay, without counting a retry
  (the message is waiting on other work, it did not fail);
- ``PermanentError`` or a message that fails its contract: ``basic_reject(requeue=False)``, which
  the queue's dead-letter exchange parks in the dead-letter queue.

Deliveries are tied to the connection generation they arrived on: after a reconnect their tags
mean nothing (the broker has already requeued them), so they are never acked on the new channel.
Connection losses and broker restarts reconnect with capped, jittered backoff; a channel error
(a topology mismatch, a protocol bug) ends ``run()`` with a non-zero code so the orchestrator
restarts the process. SIGTERM stops consuming, lets in-flight handlers finish within a grace
period, settles them, and closes.

The dead-letter queue can be consumed by the same runner (``dead_letter_handler``): a handler
that records each parked message where people look, then acks it. If it fails (the database is
down) the message goes back to the dead-letter queue after a pause, never to the work queue.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import enum
import functools
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import pika.exceptions

from mlconnector.bus.errors import PermanentError
from mlconnector.bus.errors import RetryLater
from mlconnector.bus.errors import TransientError
from mlconnector.bus.params import Channel
from mlconnector.bus.params import connection_parameters
from mlconnector.bus.params import redacted_url
from mlconnector.bus.topology import Topology
from mlconnector.contracts import ContractError
from mlconnector.logging import correlation_scope

logger = logging.getLogger(__name__)

RETRY_COUNT_HEADER = "x-mlc-retry-count"
WAIT_COUNT_HEADER = "x-mlc-wait-count"
LAST_ERROR_HEADER = "x-mlc-last-error"


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What a handler sees of a message; the channel and delivery tag stay with the runner."""

    body: bytes
    routing_key: str
    message_id: str | None
    correlation_id: str | None
    headers: dict[str, Any]
    redelivered: bool
    # When the publisher sent it (AMQP ``timestamp``, whole seconds); retry copies carry none.
    published_at: int | None = None

    @property
    def retry_count(self) -> int:
        value = self.headers.get(RETRY_COUNT_HEADER, 0)
        return value if isinstance(value, int) else 0

    @property
    def wait_count(self) -> int:
        value = self.headers.get(WAIT_COUNT_HEADER, 0)
        return value if isinstance(value, int) else 0

    @property
    def delivery_count(self) -> int:
        """How often the broker has delivered it before (quorum queues' ``x-delivery-count``)."""
        value = self.headers.get("x-delivery-count", 0)
        return value if isinstance(value, int) else 0


Handler = Callable[[Delivery], None]


class Outcome(enum.Enum):
    ACK = "ack"
    RETRY = "retry"
    WAIT = "wait"
    DEAD = "dead"
    REQUEUE = "requeue"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A handler's outcome, and for ``WAIT`` how long the message should wait."""

    outcome: Outcome
    delay_s: float | None = None


# Called after each settlement with the queue, the outcome's name, the delivery and the seconds
# from its arrival to its verdict (metrics).
Observer = Callable[[str, str, Delivery, float], None]

# How long a failing dead-letter handler pauses before its message goes back to the queue.
DEAD_LETTER_PAUSE_S = 5.0


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, expressed through the topology's wait-queue tiers."""

    max_retries: int | None = 8
    base_s: float = 1.0
    cap_s: float = 600.0

    def delay_s(self, retry_count: int) -> float:
        """'Equal jitter': half the exponential delay fixed, half random, never above the cap."""
        # The exponent is capped: when the handler decides, an outage's retries go on and on.
        ceiling = min(self.cap_s, self.base_s * float(2 ** min(retry_count, 30)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


class ConsumerRunner:
    """Consumes one queue with a handler until stopped; see the module docstring."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        handler: Handler,
        *,
        prefetch: int = 10,
        workers: int = 4,
        retry: RetryPolicy | None = None,
        heartbeat_s: int = 30,
        reconnect_cap_s: float = 30.0,
        stop_grace_s: float = 30.0,
        heartbeat_file: Path | None = None,
        declare: bool = True,
        client_name: str = "mlc-consumer",
        dead_letter_handler: Handler | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._url = url
        self._topology = topology
        self._handler = handler
        self._prefetch = prefetch
        self._workers = workers
        self._retry = retry or RetryPolicy()
        self._heartbeat_s = heartbeat_s
        self._reconnect_cap_s = reconnect_cap_s
        self._stop_grace_s = stop_grace_s
        self._heartbeat_file = heartbeat_file
        self._declare = declare
        self._client_name = client_name
        self._dead_letter_handler = dead_letter_handler
        self._observer = observer
        self._stop = threading.Event()
        self._generation = 0
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._in_flight: set[concurrent.futures.Future[Verdict]] = set()
        self.consuming = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run()`` to finish; safe from signal handlers and other threads."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the runner gracefully (main thread only)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _s, _f: self.stop())

    def run(self) -> int:
        """Consume until stopped. Returns 0 after a clean stop, 1 after a channel error."""
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="mlc-handler"
        )
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    self._consume_until_stopped()
                    failures = 0
                except pika.exceptions.AMQPChannelError as exc:
                    logger.error("channel error, exiting for a restart: %r", exc)
                    return 1
                except pika.exceptions.AMQPError as exc:
                    # Includes ConnectionClosedByBroker (broker restart, 320) and StreamLostError.
                    self.consuming.clear()
                    delay = min(self._reconnect_cap_s, 2.0**failures) * random.uniform(0.5, 1.0)  # noqa: S311
                    failures += 1
                    logger.warning(
                        "connection to %s lost (%r); reconnecting in %.1fs",
                        redacted_url(self._url),
                        exc,
                        delay,
                    )
                    self._stop.wait(delay)
            return 0
        finally:
            self.consuming.clear()
            self._pool.shutdown(wait=True)

    def _consume_until_stopped(self) -> None:
        params = connection_parameters(
            self._url, heartbeat_s=self._heartbeat_s, client_name=self._client_name
        )
        connection = pika.BlockingConnection(params)
        self._generation += 1
        generation = self._generation
        try:
            channel = connection.channel()
            if self._declare:
                self._topology.declare(channel)
            channel.basic_qos(prefetch_count=self._prefetch)
            retry_channel = connection.channel()
            retry_channel.confirm_delivery()
            on_message = functools.partial(
                self._on_message, connection, retry_channel, generation, self._handler, False
            )
            consumer_tags = [channel.basic_consume(self._topology.queue, on_message)]
            if self._dead_letter_handler is not None:
                on_dead = functools.partial(
                    self._on_message,
                    connection,
                    retry_channel,
                    generation,
                    self._dead_letter_handler,
                    True,
                )
                consumer_tags.append(channel.basic_consume(self._topology.dead_queue, on_dead))
            self.consuming.set()
            logger.info("consuming %s (prefetch %d)", self._topology.queue, self._prefetch)
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.5)
                self._touch_heartbeat()
            self._drain(connection, channel, consumer_tags)
        finally:
            self.consuming.clear()
            if connection.is_open:
                connection.close()

    def _drain(self, connection: Any, channel: Channel, consumer_tags: list[str]) -> None:
        """Stop new deliveries, give in-flight handlers the grace period, settle, return."""
        for tag in consumer_tags:
            channel.basic_cancel(tag)
        deadline = time.monotonic() + self._stop_grace_s
        while self._in_flight and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)
        if self._in_flight:
            logger.warning(
                "%d handler(s) still running at shutdown; their messages will be redelivered",
                len(self._in_flight),
            )
        connection.process_data_events(time_limit=0)

    def _touch_heartbeat(self) -> None:
        if self._heartbeat_file is not None:
            try:
                self._heartbeat_file.touch()
            except OSError as exc:  # a probe file must never stop consumption
                logger.debug("cannot touch heartbeat file: %r", exc)

    # -- per message ----------------------------------------------------------------------

    def _on_message(
        self,
        connection: Any,
        retry_channel: Channel,
        generation: int,
        handler: Handler,
        dead: bool,
        channel: Channel,
        method: Any,
        properties: Any,
        body: bytes,
    ) -> None:
        delivery = Delivery(
            body=body,
            routing_key=method.routing_key,
            message_id=properties.message_id,
            correlation_id=properties.correlation_id,
            headers=dict(properties.headers or {}),
            redelivered=bool(method.redelivered),
            published_at=properties.timestamp if isinstance(properties.timestamp, int) else None,
        )
        arrived = time.monotonic()
        assert self._pool is not None
        work = self._handle_dead if dead else self._handle
        future = self._pool.submit(work, handler, delivery)
        self._in_flight.add(future)
        queue = self._topology.dead_queue if dead else self._topology.queue

        def _done(fut: concurrent.futures.Future[Verdict]) -> None:
            settle = functools.partial(
                self._settle,
                channel,
                retry_channel,
                generation,
                method.delivery_tag,
                delivery,
                fut,
                queue,
                time.monotonic() - arrived,
            )
            try:
                connection.add_callback_threadsafe(settle)
            except Exception:  # connection already closed: the broker redelivers
                self._in_flight.discard(fut)

        future.add_done_callback(_done)

    def _handle(self, handler: Handler, delivery: Delivery) -> Verdict:
        with correlation_scope(delivery.correlation_id):
            try:
                handler(delivery)
            except (PermanentError, ContractError) as exc:
                logger.error("message %s rejected for good: %s", delivery.message_id, exc)
                return Verdict(Outcome.DEAD)
            except RetryLater as exc:
                logger.info("message %s waits %.1fs: %s", delivery.message_id, exc.delay_s, exc)
                return Verdict(Outcome.WAIT, exc.delay_s)
            except TransientError as exc:
                logger.warning("message %s failed transiently: %s", delivery.message_id, exc)
                return Verdict(Outcome.RETRY)
            except Exception:
                logger.exception("message %s failed unexpectedly", delivery.message_id)
                return Verdict(Outcome.RETRY)
            return Verdict(Outcome.ACK)

    def _handle_dead(self, handler: Handler, delivery: Delivery) -> Verdict:
        """A dead letter is recorded or put back on its own queue; it never goes to work again."""
        with correlation_scope(delivery.correlation_id):
            try:
                handler(delivery)
            except Exception:
                logger.exception(
                    "could not record dead letter %s; it stays parked", delivery.message_id
                )
                self._stop.wait(DEAD_LETTER_PAUSE_S)
                return Verdict(Outcome.REQUEUE)
            return Verdict(Outcome.ACK)

    def _settle(
        self,
        channel: Channel,
        retry_channel: Channel,
        generation: int,
        delivery_tag: int,
        delivery: Delivery,
        future: concurrent.futures.Future[Verdict],
        queue: str,
        seconds: float,
    ) -> None:
        """Runs on the connection's thread: ack, retry or reject one delivery."""
        self._in_flight.discard(future)
        if generation != self._generation or not channel.is_open:
            logger.info(
                "channel of message %s is gone; it will be redelivered", delivery.message_id
            )
            return
        verdict = future.result()
        outcome = verdict.outcome
        limit = self._retry.max_retries
        if outcome is Outcome.RETRY and limit is not None and delivery.retry_count >= limit:
            logger.error(
                "message %s still failing after %d retries; dead-lettering it",
                delivery.message_id,
                delivery.retry_count,
            )
            outcome = Outcome.DEAD
        if outcome is Outcome.ACK:
            channel.basic_ack(delivery_tag)
        elif outcome is Outcome.DEAD:
            channel.basic_reject(delivery_tag, requeue=False)
        elif outcome is Outcome.REQUEUE:
            channel.basic_reject(delivery_tag, requeue=True)
        elif self._schedule_retry(retry_channel, delivery, verdict.delay_s):
            channel.basic_ack(delivery_tag)
        else:
            # The retry copy is not confirmed: put the original back (counts toward the
            # queue's delivery limit, so this cannot loop forever).
            channel.basic_reject(delivery_tag, requeue=True)
        self._observe(queue, outcome, delivery, seconds)

    def _observe(self, queue: str, outcome: Outcome, delivery: Delivery, seconds: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer(queue, outcome.value, delivery, seconds)
        except Exception:  # metrics must never stop consumption
            logger.exception("consumer observer failed")

    def _schedule_retry(
        self, retry_channel: Channel, delivery: Delivery, wait_s: float | None = None
    ) -> bool:
        """Publish the delayed copy: after ``wait_s`` (a wait, not counted) or the backoff."""
        waiting = wait_s is not None
        if wait_s is not None:
            delay = min(wait_s, self._retry.delay_s(delivery.wait_count))
        else:
            delay = self._retry.delay_s(delivery.retry_count)
        delay = max(0.05, delay)
        tier = self._topology.tier_for(delay)
        headers = dict(delivery.headers)
        headers.pop("x-delivery-count", None)
        headers.pop("x-death", None)
        headers[RETRY_COUNT_HEADER] = delivery.retry_count + (0 if waiting else 1)
        if waiting:
            headers[WAIT_COUNT_HEADER] = delivery.wait_count + 1
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=delivery.message_id,
            correlation_id=delivery.correlation_id,
            headers=headers,
            expiration=str(int(min(delay, tier) * 1000)),
        )
        try:
            retry_channel.basic_publish(
                self._topology.retry_exchange,
                self._topology.retry_queue(tier),
                delivery.body,
                properties,
                mandatory=True,
            )
        except pika.exceptions.AMQPError as exc:
            logger.error("cannot schedule retry of %s: %r", delivery.message_id, exc)
            return False
        logger.info(
            "message %s %s in %.1fs (attempt %d)",
            delivery.message_id,
            "looked at again" if waiting else "retried",
            delay,
            delivery.retry_count + (0 if waiting else 1),
        )
        return True
