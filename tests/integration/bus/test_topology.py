"""The declared topology on the real broker: idempotent, quorum, delivery limit, dead letters."""

from __future__ import annotations

import pika
import pytest
from factories import queue_depth
from factories import wait_until

from mlconnector.bus import Topology

pytestmark = pytest.mark.rabbitmq


class TestTopology:
    def test_declaring_twice_from_two_connections_is_harmless(
        self, amqp_url: str, topology: Topology
    ) -> None:
        for _ in range(2):
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
            topology.declare(connection.channel())
            connection.close()
        assert queue_depth(amqp_url, topology.queue) == 0

    def test_a_message_requeued_past_the_delivery_limit_is_dead_lettered_not_dropped(
        self, amqp_url: str, topology: Topology
    ) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            topology.exchange,
            "bc.invoice.observed",
            b"{}",
            pika.BasicProperties(delivery_mode=2, message_id="crashes-every-consumer"),
            mandatory=True,
        )
        # Each reject-with-requeue is what a consumer crash looks like to the queue.
        rejections = 0
        for _ in range(topology.delivery_limit + 3):
            method, _properties, _body = channel.basic_get(topology.queue, auto_ack=False)
            if method is None:
                break
            channel.basic_reject(method.delivery_tag, requeue=True)
            rejections += 1
        connection.close()

        assert rejections == topology.delivery_limit + 1
        assert wait_until(lambda: queue_depth(amqp_url, topology.dead_queue) == 1)
        assert queue_depth(amqp_url, topology.queue) == 0
