"""The reconciler's ``/metrics``: records by state, queue depth, calls to the gateways, the
consumer's exporter, and a database or broker that does not answer.

The API app is built as ``wsgi.py`` builds it (settings and dependencies from ``MLC_*``), on a
migrated SQLite file and on PostgreSQL, with the module's isolated topology on the real broker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from factories import free_port
from factories import random_ref
from factories import wait_until
from flask import Flask
from metrics_support import count
from metrics_support import sample
from metrics_support import scrape_client
from metrics_support import scrape_url
from sqlalchemy import Engine
from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlc_local.processes import Process
from mlconnector import metrics_export
from mlconnector.bus import Topology
from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from reconciler import migrate
from reconciler.adapters.http import GatewayUnavailable
from reconciler.adapters.http import JsonGateway
from reconciler.metrics import RecordFigures
from reconciler.metrics import dead_letter_count
from reconciler.models import AuditEvent
from reconciler.models import DeadLetter
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

pytestmark = pytest.mark.rabbitmq

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head, once per backend."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_databases")()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('metrics-db') / 'reconciler.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the module's database; the records are deleted after each test."""
    factory = make_session_factory(engine)
    yield factory
    with factory.begin() as session:
        session.execute(delete(AuditEvent))
        session.execute(delete(SyncRecord))


@pytest.fixture
def make_app(
    environ: dict[str, str], set_env: Callable[[dict[str, str]], None], database_url: str
) -> Iterator[Callable[..., Flask]]:
    """``make_app(MLC_X="y")``: the reconciler API as ``wsgi.py`` builds it."""
    from reconciler.api import create_app

    built: list[Flask] = []

    def make(**extra: str) -> Flask:
        set_env({**environ, "MLC_DATABASE_URL": database_url, **extra})
        app = create_app()
        built.append(app)
        return app

    yield make
    for app in built:
        deps = app.extensions["reconciler"]
        deps.publisher.close()
        deps.engine.dispose()


def record(kind: RecordKind, state: RecordState, *, updated_ago_s: float = 0) -> SyncRecord:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=updated_ago_s)
    return SyncRecord(
        kind=kind,
        business_key=random_ref("metrics"),
        state=state,
        created_at=at,
        updated_at=at,
    )


class TestRecords:
    def test_records_by_kind_and_state_reflect_the_rows(
        self, make_app: Callable[..., Flask], sessions: sessionmaker[Session]
    ) -> None:
        with sessions.begin() as session:
            session.add_all(
                [
                    record(RecordKind.PAYMENT, RecordState.PENDING, updated_ago_s=3600),
                    record(RecordKind.PAYMENT, RecordState.PENDING, updated_ago_s=60),
                    record(RecordKind.PAYMENT, RecordState.UNMATCHED),
                    record(RecordKind.INVOICE, RecordState.FAILED),
                    record(RecordKind.INVOICE, RecordState.SUCCEEDED),
                ]
            )

        response = make_app().test_client().get("/metrics")  # no token: Prometheus has none

        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert sample(body, "mlc_records", kind="payment", state="pending") == 2
        assert sample(body, "mlc_records", kind="payment", state="unmatched") == 1
        assert sample(body, "mlc_records", kind="invoice", state="failed") == 1
        assert sample(body, "mlc_records", kind="invoice", state="succeeded") == 1
        assert sample(body, "mlc_records", kind="refund", state="failed") == 0  # zeros too
        age = sample(body, "mlc_records_oldest_pending_age_seconds", kind="payment")
        assert age is not None
        assert 3590 <= age <= 3700
        assert sample(body, "mlc_records_oldest_pending_age_seconds", kind="invoice") is None
        assert sample(body, "mlc_dead_letters") == 0
        assert sample(body, "mlc_scrape_error", collector="records") == 0

        with sessions.begin() as session:
            session.add(DeadLetter(dead_key="k" * 64, reason="rejected", body=b"not json"))
        # A new app: the scrape-time figures are cached for a few seconds within one.
        body = make_app().test_client().get("/metrics").get_data(as_text=True)
        assert sample(body, "mlc_dead_letters") == 1

    def test_a_schema_without_dead_letters_is_tolerated(self, tmp_path: Path) -> None:
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        SyncRecord.__table__.create(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            assert dead_letter_count(session) is None
        families = RecordFigures(sessions).compute()
        assert [f.name for f in families] == [
            "mlc_records",
            "mlc_records_oldest_pending_age_seconds",
            "mlc_clearing_drift",
        ]
        engine.dispose()


def publish(amqp_url: str, exchange: str, routing_key: str, count: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for number in range(count):
            channel.basic_publish(exchange, routing_key, f'{{"n": {number}}}'.encode())
    finally:
        connection.close()


def purge(amqp_url: str, *queues: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_purge(queue)
    finally:
        connection.close()


class TestQueues:
    def test_queue_depth_reflects_the_messages_published(
        self, make_app: Callable[..., Flask], amqp_url: str, namespace: str
    ) -> None:
        topology = Topology.isolated(namespace)
        purge(amqp_url, topology.queue, topology.dead_queue)
        publish(amqp_url, topology.exchange, "bc.metrics.test", 3)
        publish(amqp_url, topology.dead_exchange, "bc.metrics.test", 2)
        client = make_app().test_client()

        body = scrape_client(client)

        work = {"queue": topology.queue, "role": "work"}
        assert sample(body, "mlc_queue_messages", **work) == 3
        assert sample(body, "mlc_queue_consumers", **work) == 0
        assert sample(body, "mlc_queue_messages", queue=topology.dead_queue, role="dead") == 2
        for tier in topology.retry_tiers_s:
            retry = {"queue": topology.retry_queue(tier), "role": "retry"}
            assert sample(body, "mlc_queue_messages", **retry) == 0
        assert sample(body, "mlc_scrape_error", collector="queues") == 0
        purge(amqp_url, topology.queue, topology.dead_queue)

    def test_a_broker_and_a_database_that_do_not_answer_are_errors_not_a_failed_scrape(
        self, make_app: Callable[..., Flask]
    ) -> None:
        app = make_app(
            MLC_AMQP_URL=f"amqp://guest:guest@{CLOSED}/%2F",
            MLC_DATABASE_URL=f"postgresql+psycopg://postgres@{CLOSED}/nowhere",
        )
        body = scrape_client(app.test_client())
        assert sample(body, "mlc_scrape_error", collector="queues") == 1
        assert sample(body, "mlc_scrape_error", collector="records") == 1
        assert sample(body, "mlc_records", kind="payment", state="pending") is None


class TestGatewayCalls:
    def test_each_call_to_a_gateway_is_observed_with_its_status(
        self, make_stripe_app: Callable[..., Flask], serve: Callable[..., Any]
    ) -> None:
        gateway = serve(make_stripe_app())
        before, _ = metrics_export.render([], None)
        client = JsonGateway(gateway.url, name="stripe-gateway", timeout_s=5)
        client.get("/healthz")
        with pytest.raises(GatewayUnavailable):  # no service token: 401
            client.post("/commands/customers", {})
        with pytest.raises(GatewayUnavailable):
            JsonGateway(f"http://{CLOSED}", name="stripe-gateway", timeout_s=2).get("/healthz")
        after, _ = metrics_export.render([], None)

        def delta(**labels: str) -> float:
            name = "mlc_api_request_duration_seconds_count"
            return count(after.decode(), name, system="stripe-gateway", **labels) - count(
                before.decode(), name, system="stripe-gateway", **labels
            )

        assert delta(operation="read", status="2xx") == 1
        assert delta(operation="command", status="4xx") == 1
        assert delta(operation="read", status="error") == 1


def test_the_consumer_counts_what_became_of_each_delivery_on_its_metrics_port(
    service_env: dict[str, str], tmp_path: Path, amqp_url: str
) -> None:
    """A message that breaks its contract is consumed and dead-lettered, then recorded from the
    dead-letter queue: the consumer's exporter shows each step."""
    port = free_port()
    env = {
        **service_env,
        "MLC_METRICS_PORT": str(port),
        "MLC_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
    }
    consumer = Process("consumer", ["reconciler", "consume"], env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def answers() -> bool:
            if not consumer.alive():
                pytest.fail(f"the consumer exited:\n{consumer.tail()}")
            try:
                return "mlc_consumer_messages_total" in scrape_url(url)
            except OSError:
                return False

        assert wait_until(answers, timeout_s=30), consumer.tail()
        body = scrape_url(url)
        assert "# TYPE mlc_consumer_messages_total counter" in body
        assert sample(body, "process_cpu_seconds_total") is not None  # one process: its own

        topology = Topology.isolated(service_env["MLC_BUS_NAMESPACE"])
        assert wait_until(lambda: _consumed_by(amqp_url, topology.queue), timeout_s=30)
        publish(amqp_url, topology.exchange, "bc.metrics.garbage", 1)

        def counted(queue: str, outcome: str) -> float:
            name = "mlc_consumer_messages_total"
            return count(scrape_url(url), name, queue=queue, outcome=outcome)

        assert wait_until(lambda: counted(topology.queue, "dead_lettered") == 1, timeout_s=30)
        assert counted(topology.queue, "consumed") == 1
        assert wait_until(lambda: counted(topology.dead_queue, "acked") == 1, timeout_s=30)
    finally:
        consumer.stop()


def _consumed_by(amqp_url: str, queue: str) -> bool:
    """Whether ``queue`` exists and has a consumer."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return bool(declared.method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()
