"""Confirmed-publish throughput: the shared Publisher against one-confirm-at-a-time.

Run with ``.venv/bin/python bench/bus_publish.py`` (RabbitMQ on 127.0.0.1:5672). Every variant
publishes the same 1 KB persistent, mandatory messages to an isolated quorum queue and waits for
every confirm; the figures are measured side by side in one run and printed as ratios to the
baseline (a ``BlockingConnection`` that waits for each confirm before the next publish, the
pattern a naive gateway would use).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import time
import uuid
from collections.abc import Callable

import pika

from mlconnector.bus import Publisher
from mlconnector.bus import Topology

BODY = b"x" * 1024


def _blocking_serial(url: str, topology: Topology, count: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    properties = pika.BasicProperties(delivery_mode=2, message_id="m")
    for _ in range(count):
        channel.basic_publish(topology.exchange, "bc.bench", BODY, properties, mandatory=True)
    connection.close()


def _publisher_threads(url: str, topology: Topology, count: int, threads: int) -> None:
    publisher = Publisher(url, exchange=topology.exchange)
    publisher.publish("bc.bench", BODY, message_id="warm-up")
    per_thread = count // threads

    def send(_: int) -> None:
        for i in range(per_thread):
            publisher.publish("bc.bench", BODY, message_id=f"m-{i}")

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(threads)))
    publisher.close()


def _publisher_async(url: str, topology: Topology, count: int) -> None:
    publisher = Publisher(url, exchange=topology.exchange)
    futures = [publisher.publish_async("bc.bench", BODY, message_id=f"m-{i}") for i in range(count)]
    for future in futures:
        future.result(timeout=60)
    publisher.close()


def _timed(run: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url", default=os.environ.get("MLC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    parser.add_argument("--count", type=int, default=3200)
    args = parser.parse_args()
    topology = Topology.isolated("bench-" + uuid.uuid4().hex[:8], retry_tiers_s=(1,))
    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    topology.declare(channel)
    try:
        n = args.count
        variants: list[tuple[str, Callable[[], None], int]] = [
            (
                "BlockingConnection, one confirm at a time",
                lambda: _blocking_serial(args.url, topology, n // 2),
                n // 2,
            ),
            (
                "Publisher, 1 thread",
                lambda: _publisher_threads(args.url, topology, n // 2, 1),
                n // 2,
            ),
            ("Publisher, 16 threads", lambda: _publisher_threads(args.url, topology, n, 16), n),
            ("Publisher, 32 threads", lambda: _publisher_threads(args.url, topology, n, 32), n),
            (
                "Publisher, publish_async (all in flight)",
                lambda: _publisher_async(args.url, topology, n),
                n,
            ),
        ]
        results = []
        for name, run, count in variants:
            results.append((name, _timed(run, count)))
            channel.queue_purge(topology.queue)
        baseline = results[0][1]
        print(f"{'variant':45} {'msg/s':>9} {'ratio':>7}")
        for name, rate in results:
            print(f"{name:45} {rate:9.0f} {rate / baseline:6.1f}x")
    finally:
        topology.delete(channel)
        connection.close()


if __name__ == "__main__":
    main()
