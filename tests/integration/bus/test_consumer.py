"""The consumer runner against the real broker: ack, delayed retry, dead letters, reconnects."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from factories import drain
from factories import queue_depth
from factories import random_ref
from factories import wait_until

from mlconnector.bus import ConsumerRunner
from mlconnector.bus import Delivery
from mlconnector.bus import PermanentError
from mlconnector.bus import Publisher
from mlconnector.bus import RetryPolicy
from mlconnector.bus import Topology
from mlconnector.bus import TransientError

pytestmark = pytest.mark.rabbitmq

FAST_RETRY = RetryPolicy(max_retries=2, base_s=0.2, cap_s=0.5)


class RunningConsumer:
    """A runner on a background thread, stopped and joined at the end of the test."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.exit_code = self.runner.run()

    def __enter__(self) -> RunningConsumer:
        self.thread.start()
        assert self.runner.consuming.wait(10), "consumer did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        self.runner.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def publish(
    amqp_url: str, topology: Topology
) -> Iterator[Callable[[str, dict[str, object]], None]]:
    publisher = Publisher(amqp_url, exchange=topology.exchange)

    def _publish(message_id: str, body: dict[str, object]) -> None:
        publisher.publish("bc.invoice.observed", json.dumps(body).encode(), message_id=message_id)

    yield _publish
    publisher.close()


class TestAcknowledgement:
    def test_message_is_acked_after_the_handler_returns(
        self, amqp_url: str, topology: Topology, publish: Callable[..., None]
    ) -> None:
        seen: list[Delivery] = []
        runner = ConsumerRunner(amqp_url, topology, seen.append, retry=FAST_RETRY)
        with RunningConsumer(runner):
            publish("m-1", {"n": 1})
            assert wait_until(lambda: len(seen) == 1)
            assert wait_until(lambda: queue_depth(amqp_url, topology.queue) == 0)
        assert seen[0].message_id == "m-1"
        assert json.loads(seen[0].body) == {"n": 1}
        # Nothing was left unacked: after the consumer stopped the queue is still empty.
        assert queue_depth(amqp_url, topology.queue) == 0


class TestRetriesAndDeadLetters:
    def test_transient_error_is_retried_later_through_the_wait_queue(
        self, amqp_url: str, topology: Topology, publish: Callable[..., None]
    ) -> None:
        attempts: list[tuple[float, int]] = []

        def handler(delivery: Delivery) -> None:
            attempts.append((time.monotonic(), delivery.retry_count))
            if len(attempts) == 1:
                raise TransientError("BC answered 503")

        runner = ConsumerRunner(amqp_url, topology, handler, retry=FAST_RETRY)
        with RunningConsumer(runner):
            publish("m-retry", {"n": 2})
            assert wait_until(lambda: len(attempts) == 2, timeout_s=15)
        (first_at, first_count), (second_at, second_count) = attempts
        assert (first_count, second_count) == (0, 1)
        assert second_at - first_at >= 0.09  # waited in the retry tier, not a hot requeue
        assert queue_depth(amqp_url, topology.dead_queue) == 0

    def test_permanent_error_is_dead_lettered_at_once(
        self, amqp_url: str, topology: Topology, publish: Callable[..., None]
    ) -> None:
        calls: list[str | None] = []

        def handler(delivery: Delivery) -> None:
            calls.append(delivery.message_id)
            raise PermanentError("no such currency")

        runner = ConsumerRunner(amqp_url, topology, handler, retry=FAST_RETRY)
        with RunningConsumer(runner):
            publish("m-poison", {"n": 3})
            assert wait_until(lambda: queue_depth(amqp_url, topology.dead_queue) == 1)
        assert calls == ["m-poison"]
        ((properties, _body),) = drain(amqp_url, topology.dead_queue)
        assert properties.message_id == "m-poison"
        assert properties.headers["x-death"][0]["reason"] == "rejected"

    def test_a_message_that_keeps_failing_is_dead_lettered_after_the_retry_limit(
        self, amqp_url: str, topology: Topology, publish: Callable[..., None]
    ) -> None:
        calls: list[int] = []

        def handler(delivery: Delivery) -> None:
            calls.append(delivery.retry_count)
            raise RuntimeError("a bug")

        runner = ConsumerRunner(amqp_url, topology, handler, retry=FAST_RETRY)
        with RunningConsumer(runner):
            publish("m-bug", {"n": 4})
            assert wait_until(lambda: queue_depth(amqp_url, topology.dead_queue) == 1, timeout_s=15)
        assert calls == [0, 1, 2]
        assert queue_depth(amqp_url, topology.queue) == 0

    def test_malformed_message_does_not_block_the_others(
        self, amqp_url: str, topology: Topology, publish: Callable[..., None]
    ) -> None:
        good: list[str | None] = []

        def handler(delivery: Delivery) -> None:
            if json.loads(delivery.body).get("poison"):
                raise PermanentError("does not validate")
            good.append(delivery.message_id)

        runner = ConsumerRunner(amqp_url, topology, handler, retry=FAST_RETRY)
        with RunningConsumer(runner):
            publish("bad", {"poison": True})
            for i in range(5):
                publish(f"good-{i}", {"n": i})
            assert wait_until(lambda: len(good) == 5)
            assert wait_until(lambda: queue_depth(amqp_url, topology.dead_queue) == 1)


def _close_connection_named(name: str) -> bool:
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in listing.splitlines():
        if name in line:
            pid = line.split("\t", 1)[0]
            subprocess.run(
                ["rabbitmqctl", "-q", "close_connection", pid, "test: forced close"],
                capture_output=True,
                check=True,
            )
            return True
    return False


class TestReconnect:
    def test_consumer_reconnects_after_the_broker_forces_its_connection_closed(
        self, amqp_url: str, topology: Topology, publish: Callable[..., None]
    ) -> None:
        name = random_ref("mlc-consumer")
        seen: list[str | None] = []
        runner = ConsumerRunner(
            amqp_url,
            topology,
            lambda d: seen.append(d.message_id),
            retry=FAST_RETRY,
            client_name=name,
        )
        with RunningConsumer(runner):
            publish("before", {"n": 1})
            assert wait_until(lambda: seen == ["before"])
            assert _close_connection_named(name)
            assert wait_until(lambda: not runner.consuming.is_set(), timeout_s=10)
            assert wait_until(runner.consuming.is_set, timeout_s=20)
            publish("after", {"n": 2})
            assert wait_until(lambda: seen == ["before", "after"])
