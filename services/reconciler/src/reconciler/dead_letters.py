"""Dead letters become failed records: nothing the broker parks is silent (issue 11).

The broker dead-letters a message when the reconciler gives up on it (a permanent error, or its
own failure count ran out), when it breaks the message contract, or, as a last resort, when its
delivery count passes the queue's backstop limit. The consumer process also consumes the
dead-letter queue with ``DeadLetterRecorder``, which for each parked message, in one
transaction:

- keeps it whole in ``dead_letters`` (body as bytes, headers, the broker's reason and time),
  once: a redelivery after a crash finds its ``dead_key`` and adds nothing;
- ties it to the records it concerns (those the message created or touched) and marks the ones
  still open ``failed`` with the reason, with an audit step in each record's story;
- when it concerns no record yet, creates a ``message`` record in state ``failed`` that says
  why; a message that can be read keeps its envelope in the inbox, so the record can be
  replayed from the API and CLI like any other; one that cannot be read cannot be replayed,
  but its bytes are there for a person to look at;
- a message the inbox shows as fully processed (dead-lettered as a late duplicate) is noted
  as harmless and fails nothing.

Only after the commit is the dead letter acknowledged, so a crash or a database outage leaves it
parked in the broker until it is recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Delivery
from mlconnector.contracts import ContractError
from mlconnector.contracts import Envelope
from mlconnector.contracts import load_message
from mlconnector.redaction import redact
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import DeadLetter
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.store import claim_inbox
from reconciler.store import dialect_insert

logger = logging.getLogger(__name__)

OPEN_STATES = (RecordState.PENDING,)
REASONS = {
    "rejected": "given up on",
    "delivery_limit": "redelivered past the queue's limit",
    "expired": "expired",
    "maxlen": "dropped from a full queue",
}


def death(headers: dict[str, Any], work_queue: str) -> tuple[str, str | None, datetime | None]:
    """The broker's reason for parking the message, the queue it left, and when.

    ``x-death`` lists deaths most recent first; retry copies also carry deaths from the wait
    queues (``expired``), so the work queue's entry is the one that explains the parking.
    """
    deaths = headers.get("x-death")
    entries = [d for d in deaths if isinstance(d, dict)] if isinstance(deaths, list) else []
    chosen = next((d for d in entries if d.get("queue") == work_queue), None)
    if chosen is None and entries:
        chosen = entries[0]
    if chosen is None:
        reason = headers.get("x-first-death-reason")
        return (str(reason) if reason else "unknown"), None, None
    when = chosen.get("time")
    at = when if isinstance(when, datetime) else None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return str(chosen.get("reason") or "unknown"), str(chosen.get("queue") or ""), at


def _plain(value: Any) -> Any:
    """Headers as JSON: pika gives datetimes and bytes in ``x-death``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class DeadLetterRecorder:
    """The dead-letter queue's handler; see the module docstring."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, work_queue: str, actor: str
    ) -> None:
        self._session_factory = session_factory
        self._work_queue = work_queue
        self._actor = actor

    def __call__(self, delivery: Delivery) -> None:
        reason, queue, at = death(delivery.headers, self._work_queue)
        headers = _plain({k: v for k, v in delivery.headers.items()})
        key_source = (
            json.dumps(
                [delivery.message_id, reason, at.isoformat() if at else None], default=str
            ).encode()
            + delivery.body
        )
        dead_key = hashlib.sha256(key_source).hexdigest()
        envelope: Envelope | None
        try:
            envelope = load_message(delivery.body)
            problem = None
        except ContractError as exc:
            envelope, problem = None, str(exc)
        with self._session_factory.begin() as session:
            row_id = session.execute(
                dialect_insert(session, DeadLetter)
                .values(
                    dead_key=dead_key,
                    message_id=(envelope.id if envelope else delivery.message_id),
                    message_type=envelope.type if envelope else None,
                    routing_key=delivery.routing_key,
                    reason=reason[:32],
                    queue=queue,
                    headers=headers,
                    body=delivery.body,
                    dead_lettered_at=at,
                    recorded_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[DeadLetter.dead_key])
                .returning(DeadLetter.id)
            ).scalar_one_or_none()
            if row_id is None:
                logger.info("dead letter %s was recorded before", delivery.message_id)
                return
            dead = session.get_one(DeadLetter, row_id)
            if envelope is None:
                self._unreadable(session, dead, problem or "unreadable")
            else:
                self._readable(session, dead, envelope, reason)
        logger.warning(
            "dead letter %s (%s) recorded as #%s for record %s",
            dead.message_id,
            reason,
            row_id,
            dead.record_id,
        )

    # -- the two kinds of dead letter ----------------------------------------------------

    def _readable(
        self, session: Session, dead: DeadLetter, envelope: Envelope, reason: str
    ) -> None:
        inbox = session.scalar(select(InboxMessage).where(InboxMessage.message_id == envelope.id))
        why = REASONS.get(reason, reason)
        error = inbox.last_error if inbox is not None else None
        dead.error = error
        if inbox is not None and inbox.processed_at is not None:
            # A late copy of a message whose effects are committed: nothing is lost.
            self._audit(
                session,
                None,
                envelope,
                f"a copy of message {envelope.id} was parked ({why}) after it had been "
                "processed; nothing is lost",
                AuditOutcome.SKIPPED,
            )
            return
        claim_inbox(
            session,
            envelope.id,
            message_type=envelope.type,
            source=MessageSource(envelope.source),
            routing_key=dead.routing_key,
            correlation_id=envelope.correlation_id,
            payload=envelope.to_dict(),
        )
        summary = f"message {envelope.id} ({envelope.type}) was dead-lettered: {why}" + (
            f"; last error: {error}" if error else ""
        )
        records = self._records_of(session, envelope.id)
        if not records:
            record = SyncRecord(
                kind=RecordKind.MESSAGE,
                business_key=f"message:{envelope.id}"[:255],
                state=RecordState.FAILED,
                source_message_id=envelope.id,
                correlation_id=envelope.correlation_id,
                last_error=redact(summary)[:2000],
                flags={"dead_letter": True},
            )
            session.add(record)
            session.flush()
            records = [record]
        for record in records:
            if record.state in OPEN_STATES:
                record.state = RecordState.FAILED
                record.last_error = redact(summary)[:2000]
            record.flags = {**(record.flags or {}), "dead_letter": True}
            self._audit(session, record.id, envelope, summary, AuditOutcome.ERROR)
        dead.record_id = records[0].id

    def _unreadable(self, session: Session, dead: DeadLetter, problem: str) -> None:
        """A message that cannot be read: a failed record pointing at the bytes kept whole."""
        summary = (
            f"a message that cannot be read was dead-lettered ({dead.reason}): {problem}; its "
            f"{len(dead.body)} bytes are kept as dead letter {dead.id}"
        )
        record = SyncRecord(
            kind=RecordKind.MESSAGE,
            business_key=f"dead-letter:{dead.dead_key}",
            state=RecordState.FAILED,
            source_message_id=None,
            last_error=redact(summary)[:2000],
            flags={"dead_letter": True, "unreadable": True},
        )
        session.add(record)
        session.flush()
        dead.record_id = record.id
        dead.error = problem[:2000]
        session.add(
            AuditEvent(
                record_id=record.id,
                message_id=dead.message_id,
                action="dead-lettered",
                summary=redact(summary),
                outcome=AuditOutcome.ERROR,
                actor=self._actor,
                error=redact(problem)[:2000],
            )
        )

    @staticmethod
    def _records_of(session: Session, message_id: str) -> list[SyncRecord]:
        """The records the message created or whose story it is part of."""
        touched = select(AuditEvent.record_id).where(
            AuditEvent.message_id == message_id, AuditEvent.record_id.is_not(None)
        )
        return list(
            session.scalars(
                select(SyncRecord)
                .where((SyncRecord.source_message_id == message_id) | SyncRecord.id.in_(touched))
                .order_by(SyncRecord.id)
            )
        )

    def _audit(
        self,
        session: Session,
        record_id: int | None,
        envelope: Envelope,
        summary: str,
        outcome: AuditOutcome,
    ) -> None:
        session.add(
            AuditEvent(
                record_id=record_id,
                message_id=envelope.id,
                action="dead-lettered",
                summary=redact(summary),
                outcome=outcome,
                actor=self._actor,
                correlation_id=envelope.correlation_id,
            )
        )
