"""The reconciler's figures computed when Prometheus asks: records in the database, queues in
the broker.

They describe shared state, not one process, so they are computed at scrape time by the
reconciler API (``reconciler.api.create_app``) rather than counted by the consumers: records by
kind and state, how long the stalest pending record has waited, the dead letters kept, and for
the work, dead-letter and retry queues the messages ready and the consumers attached. Each is a
``mlconnector.metrics_export.ScrapeTimeCollector``: cached for a few seconds, bounded in time, and a
database or broker that does not answer is ``mlc_scrape_error{collector=...} 1``, not a failed
scrape.

"Pending" age is measured from the record's last update, not its creation: every attempt and
every retry touches the record, and a replay makes an old record pending again, so a record
untouched for longer than the retry budget is one nobody is working on.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import pika
import pika.exceptions
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector import metrics
from mlconnector import metrics_export
from mlconnector.bus import Topology
from mlconnector.bus import connection_parameters
from mlconnector.db import read_only_session
from mlconnector.money import from_minor
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

DEAD_LETTERS_TABLE = "dead_letters"


def dead_letter_count(session: Session) -> int | None:
    """Rows in ``dead_letters``; None where the schema predates that table."""
    if not inspect(session.connection()).has_table(DEAD_LETTERS_TABLE):
        return None
    # A constant table name, not input: nothing to inject.
    query = text(f"SELECT count(*) FROM {DEAD_LETTERS_TABLE}")  # noqa: S608
    return int(session.execute(query).scalar_one())


def latest_drifts(session: Session) -> dict[str, Decimal]:
    """Each currency's unexplained difference at its newest drift check (``reconciler.drift``)."""
    rows = session.execute(
        select(SyncRecord.currency, SyncRecord.amount_minor, SyncRecord.business_key)
        .where(SyncRecord.kind == RecordKind.DRIFT)
        .order_by(SyncRecord.business_key)
    ).all()
    out: dict[str, Decimal] = {}
    for currency, minor, _key in rows:  # keys end in the date: the last one per currency wins
        if currency:
            out[str(currency)] = from_minor(int(minor or 0), str(currency))
    return out


class RecordFigures(metrics_export.ScrapeTimeCollector):
    """``mlc_records``, ``mlc_records_oldest_pending_age_seconds``, ``mlc_dead_letters``."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, ttl_s: float = 10.0, timeout_s: float = 2.0
    ) -> None:
        super().__init__("records", ttl_s=ttl_s, timeout_s=timeout_s)
        self._sessions = session_factory

    def compute(self) -> list[Metric]:
        now = dt.datetime.now(dt.UTC)
        with read_only_session(self._sessions) as session:
            counted = session.execute(
                select(SyncRecord.kind, SyncRecord.state, func.count()).group_by(
                    SyncRecord.kind, SyncRecord.state
                )
            ).all()
            stalest = session.execute(
                select(SyncRecord.kind, func.min(SyncRecord.updated_at))
                .where(SyncRecord.state == RecordState.PENDING)
                .group_by(SyncRecord.kind)
            ).all()
            dead = dead_letter_count(session)
            drifts = latest_drifts(session)
        # Every kind and state, zeros included: an alert on "failed > 0" needs the series.
        counts = {(kind.value, state.value): 0 for kind in RecordKind for state in RecordState}
        for kind, state, number in counted:
            counts[(str(kind), str(state))] = int(number)
        records = metrics.RECORDS.family()
        for labels, number in sorted(counts.items()):
            records.add_metric(list(labels), float(number))
        oldest = metrics.OLDEST_PENDING.family()
        for kind, updated_at in stalest:
            if updated_at is not None:
                oldest.add_metric([str(kind)], max(0.0, (now - updated_at).total_seconds()))
        drift = metrics.CLEARING_DRIFT.family()
        for currency, difference in sorted(drifts.items()):
            drift.add_metric([currency], float(difference))
        families: list[Metric] = [records, oldest, drift]
        if dead is not None:
            dead_letters = metrics.DEAD_LETTERS.family()
            dead_letters.add_metric([], float(dead))
            families.append(dead_letters)
        return families


def topology_queues(topology: Topology) -> list[tuple[str, str]]:
    """(queue, role) for the work queue, the dead-letter queue and each retry wait queue."""
    return [
        (topology.queue, "work"),
        (topology.dead_queue, "dead"),
        *((topology.retry_queue(tier), "retry") for tier in topology.retry_tiers_s),
    ]


class QueueFigures(metrics_export.ScrapeTimeCollector):
    """``mlc_queue_messages`` and ``mlc_queue_consumers`` per queue, by passive declares.

    A passive ``queue.declare`` changes nothing and reports the ready messages and the
    consumers; nothing is ever fetched from a queue (peeking at the head of a quorum queue would
    count as a delivery). A queue that does not exist has no series.
    """

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        *,
        ttl_s: float = 10.0,
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__("queues", ttl_s=ttl_s, timeout_s=timeout_s)
        self._url = amqp_url
        self._queues = topology_queues(topology)

    def compute(self) -> list[Metric]:
        params = connection_parameters(
            self._url,
            heartbeat_s=30,
            blocked_timeout_s=2.0,
            connect_timeout_s=2.0,
            client_name="reconciler-metrics",
        )
        ready = metrics.QUEUE_MESSAGES.family()
        consumers = metrics.QUEUE_CONSUMERS.family()
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            for queue, role in self._queues:
                try:
                    declared = channel.queue_declare(queue, passive=True).method
                except pika.exceptions.ChannelClosedByBroker:
                    channel = connection.channel()  # 404: the broker closed the channel
                    continue
                ready.add_metric([queue, role], float(declared.message_count))
                consumers.add_metric([queue, role], float(declared.consumer_count))
        finally:
            if connection.is_open:
                connection.close()
        return [ready, consumers]
