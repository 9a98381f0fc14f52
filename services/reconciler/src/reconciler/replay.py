"""Replay: publish a record's source message again, so the consumer runs its handler once more.

A record that failed for good (or that a person fixed the cause of, e.g. missing metadata) is
re-run through the same path as any other message: the original envelope kept in the inbox is
published to the bus again, and the consumer handles it like a new delivery. Replaying is safe
because the handlers are idempotent (unique postings, deterministic idempotency keys): a replay
can never write a second BC line or raise a second Stripe invoice (reliability.md §6.7, API6).

The replayed message gets a new id, ``replay:<record id>:<n>``, where ``n`` counts this record's
replays: the inbox would otherwise swallow it as a duplicate of the original. Before the publish,
one transaction records an audit event naming who replayed and why and sets the record back to
``pending``, so that the consumer's verdict on the replayed message always comes last. A publish
that fails gives the record its previous state back, adds an audit event saying so, and raises
``PublishError``, so the caller can say "not replayed, try again".

Two operators replaying one record at the same moment may compute the same ``n``; the second
message is then a duplicate the inbox drops, which is the outcome both wanted anyway.
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Publisher
from mlconnector.contracts import ContractError
from mlconnector.contracts import Envelope
from mlconnector.contracts import load_message
from mlconnector.db import utcnow
from mlconnector.logging import new_correlation_id
from mlconnector.redaction import redact
from reconciler.models import AuditAction
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.queries import MAX_ID
from reconciler.queries import count_replays
from reconciler.queries import source_message

logger = logging.getLogger(__name__)

SUCCEEDED_NOTE = (
    "the record had already succeeded; the handlers are idempotent, so the replay re-checks "
    "the record and cannot post it twice"
)


class ReplayError(Exception):
    """A replay that cannot be done; the message says why, for the operator."""


class RecordNotFound(ReplayError):
    """No record has this id."""


class NotReplayable(ReplayError):
    """The record has no stored source message to publish again."""


@dataclasses.dataclass(frozen=True)
class ReplayResult:
    """What was published for a replay and what the record looked like before."""

    record_id: int
    message_id: str
    previous_state: RecordState
    note: str | None = None


def replay_message_id(record_id: int, number: int) -> str:
    """The id of a record's ``number``-th replay (1-based)."""
    return f"replay:{record_id}:{number}"


def _prepare(session: Session, record_id: int) -> tuple[SyncRecord, Envelope, int]:
    """Load the record, its original envelope and its replay count, or explain why not."""
    record = session.get(SyncRecord, record_id) if 0 < record_id <= MAX_ID else None
    if record is None:
        raise RecordNotFound(f"record {record_id} does not exist")
    if not record.source_message_id:
        raise NotReplayable(f"record {record_id} has no source message to replay")
    row = source_message(session, record.source_message_id)
    if row is None or row.payload is None:
        raise NotReplayable(
            f"record {record_id}: its source message {record.source_message_id} is not stored "
            "in the inbox"
        )
    try:
        original = load_message(row.payload)
    except ContractError as exc:
        raise NotReplayable(
            f"record {record_id}: its stored source message no longer satisfies the message "
            f"contract ({exc})"
        ) from exc
    return record, original, count_replays(session, record_id)


def replay_record(
    session_factory: sessionmaker[Session],
    publisher: Publisher,
    record_id: int,
    *,
    actor: str,
    reason: str,
) -> ReplayResult:
    """Record who replays and why, set the record ``pending``, *then* publish.

    The order matters: the consumer may handle the replayed message before this function gets
    its next turn (a settled payment takes no call at all), and whatever it decides must be the
    record's last word. Publishing first and marking ``pending`` afterwards left about a third of
    the replays of a succeeded payment ``pending`` for ever (issue 11, finding 2).

    If the broker does not confirm, the record gets its previous state back (unless the consumer
    has changed it meanwhile) and a second audit row says the replay was not published; the
    publisher's ``PublishError`` is raised. History is only ever added to. No transaction is
    open while the broker is waited for.
    """
    with session_factory.begin() as session:
        record, original, replays = _prepare(session, record_id)
        previous_state = record.state
        envelope = dataclasses.replace(
            original,
            id=replay_message_id(record_id, replays + 1),
            received_at=utcnow(),
            correlation_id=new_correlation_id(),
        )
        session.add(
            AuditEvent(
                record_id=record_id,
                message_id=envelope.id,
                action=AuditAction.REPLAYED.value,
                summary=redact(f"replayed by {actor}: {reason}"),
                request_summary={"reason": redact(reason), "new_message_id": envelope.id},
                outcome=AuditOutcome.OK,
                actor=actor,
                correlation_id=envelope.correlation_id,
            )
        )
        record.state = RecordState.PENDING
    try:
        publisher.publish(
            envelope.routing_key,
            envelope.to_json(),
            message_id=envelope.id,
            correlation_id=envelope.correlation_id,
        )
    except Exception as exc:
        _undo(session_factory, record_id, previous_state, envelope, actor, exc)
        raise
    logger.info("record %s replayed by %s as message %s", record_id, actor, envelope.id)
    note = SUCCEEDED_NOTE if previous_state is RecordState.SUCCEEDED else None
    return ReplayResult(record_id, envelope.id, previous_state, note)


def _undo(
    session_factory: sessionmaker[Session],
    record_id: int,
    previous_state: RecordState,
    envelope: Envelope,
    actor: str,
    exc: Exception,
) -> None:
    """The replay was not published: give the record its state back and say so in its story."""
    with session_factory.begin() as session:
        record = session.get_one(SyncRecord, record_id)
        if record.state is RecordState.PENDING:
            record.state = previous_state
        session.add(
            AuditEvent(
                record_id=record_id,
                message_id=envelope.id,
                action=AuditAction.REPLAYED.value,
                summary=redact(
                    f"the replay was not published ({type(exc).__name__}); the record is "
                    f"{previous_state.value} again; try again later"
                ),
                outcome=AuditOutcome.ERROR,
                actor=actor,
                correlation_id=envelope.correlation_id,
            )
        )
