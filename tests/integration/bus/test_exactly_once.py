"""Crash safety of the real reconciler consumer: SIGKILL mid-handler, SIGTERM, inbox dedupe.

The consumer runs as the real ``reconciler consume`` process, on a BC notification for an entity
the connector does not sync (so its whole effect is local: two audit steps and the inbox row).
A kill point (honoured only with MLC_ENVIRONMENT=test) SIGKILLs it either after the handler and
the inbox claim but before the commit, or after the commit but before the ack. Either way the
broker redelivers the message to the next consumer, and the inbox makes sure its effects exist
exactly once.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import bin_path
from factories import delete_topology
from factories import queue_depth
from factories import random_ref
from factories import wait_until

from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import Envelope

pytestmark = pytest.mark.rabbitmq


def _envelope(message_id: str) -> Envelope:
    now = dt.datetime.now(dt.UTC)
    return Envelope(
        id=message_id,
        type="bc.notification.items.updated",
        source="bc",
        occurred_at=now,
        received_at=now,
        correlation_id=random_ref("c"),
        data={
            "subscription_id": "sub-1",
            "resource": "companies(c1)/items(i1)",
            "change_type": "updated",
            "last_modified": now,
            "entity": "items",
            "company_id": "c1",
            "entity_id": "i1",
        },
    )


# One processing leaves: the inbox row, processed, and two audit steps (received, ignored).
ONCE = (1, 1, 2)


@pytest.fixture
def bus(service_env: dict[str, str]) -> Iterator[tuple[Topology, Publisher]]:
    topology = Topology.isolated(service_env["MLC_BUS_NAMESPACE"])
    publisher = Publisher(
        service_env["MLC_AMQP_URL"], exchange=topology.exchange, topology=topology
    )
    yield topology, publisher
    publisher.close()
    delete_topology(service_env["MLC_AMQP_URL"], topology)


def _consumer(env: dict[str, str], kill_point: str | None = None) -> subprocess.Popen[bytes]:
    env = dict(env)
    if kill_point:
        env["MLC_KILL_POINT"] = kill_point
    log_path = Path(env["MLC_SECRETS_FILE"]).with_name(f"consumer-{random_ref('log')}.log")
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [bin_path("reconciler"), "consume"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _counts(database_url: str, message_id: str) -> tuple[int, int, int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            inbox = connection.execute(
                sa.text("SELECT count(*) FROM inbox WHERE message_id = :m"), {"m": message_id}
            ).scalar_one()
            processed = connection.execute(
                sa.text(
                    "SELECT count(*) FROM inbox WHERE message_id = :m AND processed_at IS NOT NULL"
                ),
                {"m": message_id},
            ).scalar_one()
            audit = connection.execute(
                sa.text("SELECT count(*) FROM audit_events WHERE message_id = :m"),
                {"m": message_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return inbox, processed, audit


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


@pytest.mark.parametrize("kill_point", ["before_commit", "after_commit"])
def test_sigkill_mid_message_then_redelivery_processes_it_exactly_once(
    service_env: dict[str, str], bus: tuple[Topology, Publisher], kill_point: str
) -> None:
    topology, publisher = bus
    database_url = service_env["MLC_DATABASE_URL"]
    message = _envelope(random_ref("msg"))

    doomed = _consumer(service_env, kill_point)
    try:
        publisher.publish(message.routing_key, message.to_json(), message_id=message.id)
        assert doomed.wait(timeout=30) == -signal.SIGKILL
    finally:
        if doomed.poll() is None:
            doomed.kill()
    expected_after_crash = (0, 0, 0) if kill_point == "before_commit" else ONCE
    assert _counts(database_url, message.id) == expected_after_crash
    # Not acked, so the broker holds it again once the dead connection is noticed.
    assert wait_until(lambda: queue_depth(service_env["MLC_AMQP_URL"], topology.queue) == 1)

    survivor = _consumer(service_env)
    try:
        assert wait_until(lambda: queue_depth(service_env["MLC_AMQP_URL"], topology.queue) == 0)
        assert wait_until(lambda: _counts(database_url, message.id) == ONCE)
    finally:
        assert _stop(survivor) == 0
    assert _counts(database_url, message.id) == ONCE
    assert queue_depth(service_env["MLC_AMQP_URL"], topology.queue) == 0


def test_sigterm_stops_the_consumer_cleanly_after_finishing_its_work(
    service_env: dict[str, str], bus: tuple[Topology, Publisher]
) -> None:
    topology, publisher = bus
    consumer = _consumer(service_env)
    messages = [_envelope(random_ref("msg")) for _ in range(20)]
    for message in messages:
        publisher.publish(message.routing_key, message.to_json(), message_id=message.id)
    assert wait_until(
        lambda: queue_depth(service_env["MLC_AMQP_URL"], topology.queue) == 0, timeout_s=20
    )
    assert _stop(consumer) == 0
    for message in messages:
        assert _counts(service_env["MLC_DATABASE_URL"], message.id) == ONCE


def test_a_message_breaking_its_contract_is_dead_lettered_and_kept_whole_as_a_failed_record(
    service_env: dict[str, str], bus: tuple[Topology, Publisher]
) -> None:
    topology, publisher = bus
    url = service_env["MLC_AMQP_URL"]
    consumer = _consumer(service_env)
    body = b'{"id": "x", "note": "\xff not a message"}'
    try:
        publisher.publish("bc.invoice.observed", body, message_id="broken")
        assert wait_until(lambda: _dead_letters(service_env["MLC_DATABASE_URL"]))
        # Parked by the broker, recorded by the consumer, then taken off the dead-letter queue.
        assert wait_until(lambda: queue_depth(url, topology.dead_queue) == 0)
    finally:
        assert _stop(consumer) == 0
    assert queue_depth(url, topology.queue) == 0
    [(kept, reason, record_state, kind, last_error)] = _dead_letters(
        service_env["MLC_DATABASE_URL"]
    )
    assert bytes(kept) == body
    assert reason == "rejected"
    assert (record_state, kind) == ("failed", "message")
    assert "cannot be read" in last_error


def _dead_letters(database_url: str) -> list[tuple[bytes, str, str, str, str]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT d.body, d.reason, r.state, r.kind, r.last_error FROM dead_letters d "
                    "JOIN sync_records r ON r.id = d.record_id"
                )
            ).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]
