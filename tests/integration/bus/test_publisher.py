"""The confirmed publisher against the real broker: confirms, returns, nacks, outages, forks."""

from __future__ import annotations

import concurrent.futures
import multiprocessing

import pika
import pytest
from factories import delete_topology
from factories import drain
from factories import free_port
from factories import queue_depth
from factories import random_ref

from mlconnector.bus import BrokerUnavailable
from mlconnector.bus import Publisher
from mlconnector.bus import PublishNacked
from mlconnector.bus import Topology
from mlconnector.bus import Unroutable

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def publisher(amqp_url: str, topology: Topology) -> Publisher:
    pub = Publisher(amqp_url, exchange=topology.exchange, confirm_timeout_s=10)
    yield pub
    pub.close()


class TestConfirmedPublish:
    def test_confirmed_message_is_in_the_queue_persistent_with_its_id(
        self, amqp_url: str, topology: Topology, publisher: Publisher
    ) -> None:
        publisher.publish(
            "stripe.event.invoice.paid", b'{"a":1}', message_id="evt_1", correlation_id="c-1"
        )

        messages = drain(amqp_url, topology.queue)
        assert len(messages) == 1
        properties, body = messages[0]
        assert body == b'{"a":1}'
        assert properties.message_id == "evt_1"
        assert properties.correlation_id == "c-1"
        assert properties.delivery_mode == 2

    def test_many_publishes_in_flight_from_many_threads_are_all_confirmed(
        self, amqp_url: str, topology: Topology, publisher: Publisher
    ) -> None:
        def send(i: int) -> None:
            publisher.publish("bc.invoice.observed", b"{}", message_id=f"m-{i}")

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(send, range(400)))
        futures = [
            publisher.publish_async("bc.invoice.observed", b"{}", message_id=f"a-{i}")
            for i in range(600)
        ]
        for future in futures:
            future.result(timeout=10)

        assert queue_depth(amqp_url, topology.queue) == 1000


class TestPublishFailures:
    def test_unroutable_message_raises_and_nothing_is_queued(
        self, amqp_url: str, topology: Topology, publisher: Publisher
    ) -> None:
        with pytest.raises(Unroutable):
            publisher.publish("nobody.listens.here", b"{}", message_id="m-unroutable")
        # The publisher stays usable after a return.
        publisher.publish("stripe.event.charge.succeeded", b"{}", message_id="m-ok")
        assert queue_depth(amqp_url, topology.queue) == 1

    def test_broker_unreachable_raises_quickly_and_reports_nothing_sent(self) -> None:
        url = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
        publisher = Publisher(url, exchange="mlc.events", connect_timeout_s=2)
        try:
            with pytest.raises(BrokerUnavailable) as info:
                publisher.publish("stripe.event.invoice.paid", b"{}", message_id="m-down")
            assert "guest:guest" not in str(info.value)
            # Within the back-off window further publishes fail fast without a new attempt.
            with pytest.raises(BrokerUnavailable):
                publisher.publish("stripe.event.invoice.paid", b"{}", message_id="m-down-2")
        finally:
            publisher.close()

    def test_nack_from_a_full_queue_raises(self, amqp_url: str) -> None:
        name = random_ref("full")
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.exchange_declare(name, exchange_type="topic", durable=True)
        channel.queue_declare(
            name,
            durable=True,
            # A classic queue enforces the length limit at once (a quorum queue's is soft).
            arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
        )
        channel.queue_bind(name, name, routing_key="#")
        publisher = Publisher(amqp_url, exchange=name)
        try:
            publisher.publish("x", b"{}", message_id="first")
            with pytest.raises(PublishNacked):
                publisher.publish("x", b"{}", message_id="second")
        finally:
            publisher.close()
            channel.queue_delete(name)
            channel.exchange_delete(name)
            connection.close()

    def test_publisher_declares_its_topology_lazily(self, amqp_url: str) -> None:
        topo = Topology.isolated(random_ref("lazy"), retry_tiers_s=(1,))
        publisher = Publisher(amqp_url, exchange=topo.exchange, topology=topo)
        try:
            publisher.publish("bc.invoice.observed", b"{}", message_id="m-lazy")
            assert queue_depth(amqp_url, topo.queue) == 1
        finally:
            publisher.close()
            delete_topology(amqp_url, topo)


def _publish_in_child(publisher: Publisher, results: multiprocessing.Queue[str]) -> None:
    try:
        publisher.publish("bc.invoice.observed", b"{}", message_id="from-child")
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(repr(exc))
    finally:
        publisher.close()


class TestFork:
    def test_publisher_used_before_fork_works_in_the_child_and_the_parent(
        self, amqp_url: str, topology: Topology, publisher: Publisher
    ) -> None:
        publisher.publish("bc.invoice.observed", b"{}", message_id="before-fork")
        context = multiprocessing.get_context("fork")
        results: multiprocessing.Queue[str] = context.Queue()
        child = context.Process(target=_publish_in_child, args=(publisher, results))
        child.start()
        child.join(30)

        assert results.get(timeout=5) == "ok"
        assert child.exitcode == 0
        publisher.publish("bc.invoice.observed", b"{}", message_id="after-fork")
        ids = sorted(p.message_id for p, _ in drain(amqp_url, topology.queue))
        assert ids == ["after-fork", "before-fork", "from-child"]
