"""Checklist case 1 at small scale (reliability.md §7): confirmed messages survive a broker restart.

A private RabbitMQ node (``mlc_local.private_rabbitmq``, the one the chaos benchmark restarts)
gets a durable quorum queue and persistent messages published with confirms; the node is stopped
gracefully and then killed outright, and after each start every confirmed message is still
there, in order. The shared broker is not involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from mlc_local import private_rabbitmq
from mlc_local.private_rabbitmq import PrivateRabbitMQ

pytestmark = pytest.mark.rabbitmq

MESSAGES = 40


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    try:
        private_rabbitmq.rabbitmq_script("rabbitmq-server")
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    with PrivateRabbitMQ(tmp_path / "rabbit", name="mlctest") as node:
        yield node


def _publish(url: str, queue: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.confirm_delivery()
        for body in bodies:
            # Blocks until the broker confirms; raises if it nacks or cannot route.
            channel.basic_publish(
                "",
                queue,
                body,
                pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
                mandatory=True,
            )
    finally:
        connection.close()


def _depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _consume_all(url: str, queue: str) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    bodies: list[bytes] = []
    try:
        channel = connection.channel()
        while True:
            method, _properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return bodies
            bodies.append(body)
            channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


class TestPrivateBrokerRestart:
    def test_confirmed_persistent_messages_in_a_quorum_queue_survive_stop_and_kill(
        self, broker: PrivateRabbitMQ
    ) -> None:
        assert broker.amqp_port != 5672  # never the shared broker
        assert (broker.base_dir / "home" / ".erlang.cookie").is_file()  # a cookie of its own
        queue = "chaos.survivors"
        sent = [f"payment-{n:03d}".encode() for n in range(MESSAGES)]
        _publish(broker.url, queue, sent)
        assert _depth(broker.url, queue) == MESSAGES

        broker.restart()
        assert _depth(broker.url, queue) == MESSAGES

        broker.restart(hard=True)
        assert broker.starts == 3
        assert _consume_all(broker.url, queue) == sent
        assert _depth(broker.url, queue) == 0
