"""One delivery, start to finish: contract, inbox check, handler, failure story, inbox claim.

1. The message must satisfy its contract, or it is poison (dead-lettered at once).
2. If the inbox says it was processed, it is a duplicate: acknowledged, nothing done.
3. The handler does the work through a ``Unit`` (short transactions, audited calls); it is
   idempotent on its own, because the same message can be in flight twice.
4. On failure the attempt's audit steps and the error are committed to every record it
   touched, marked ``failed`` when no retry will follow and left ``pending`` otherwise; then the
   error goes back to the runner, which schedules the retry or dead-letters the message.

   The message's own failures are counted here, in its inbox row, not by the broker: a broker
   counts a delivery against every message a consumer held when it died, so a crash loop would
   park innocent messages (issue 11). A failure counts when the message itself is the cause:
   the gateway refused it, a handler broke on it. An outage (a gateway or the database
   unavailable) does not count: the message backs off and waits it out however long it lasts,
   and the records say what it waits for. The ``max_retries``-th counted failure after the
   first is final: the records fail and the message is dead-lettered (``PermanentError``).
   Meeting another attempt's claim on a posting is not a failure either: the steps say the
   message will look again later, and the records stay as they are.
5. On success the inbox row is claimed and marked processed in one transaction, with the
   remaining audit steps. Only after that commit does the runner acknowledge the delivery.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector import metrics
from mlconnector.bus import Delivery
from mlconnector.bus import PermanentError
from mlconnector.bus import RetryLater
from mlconnector.contracts import ContractError
from mlconnector.contracts import load_message
from mlconnector.db import read_only_session
from reconciler.adapters.http import GatewayUnavailable
from reconciler.handlers import handler_for
from reconciler.kill_points import AFTER_COMMIT
from reconciler.kill_points import BEFORE_COMMIT
from reconciler.kill_points import KillSwitch
from reconciler.models import AuditOutcome
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.store import claim_inbox
from reconciler.store import keep_message
from reconciler.store import mark_inbox_processed
from reconciler.store import record_inbox_attempt
from reconciler.unit import MAX_ERROR_LENGTH
from reconciler.unit import Unit

logger = logging.getLogger(__name__)

SETTLED_STATES = (RecordState.SUCCEEDED, RecordState.UNMATCHED, RecordState.SKIPPED)


def is_outage(exc: BaseException) -> bool:
    """Whether the failure is a system being unavailable rather than anything about the message.

    A gateway that answered 5xx or 429, timed out or could not be reached, and a database that
    refused the connection or dropped it. None of these says the message is poison.
    """
    if isinstance(exc, GatewayUnavailable):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or type(exc.orig).__name__ in (
            "OperationalError",
            "InterfaceError",
        )
    return False


class MessageProcessor:
    """Turns one delivery into committed, audited effects (or a retry/dead-letter signal)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        deps: Any,
        *,
        actor: str,
        max_retries: int,
        kill: KillSwitch | None = None,
        queue: str = "",
    ) -> None:
        self._session_factory = session_factory
        self._deps = deps
        self._actor = actor
        self._max_retries = max_retries
        self._kill = kill or KillSwitch()
        self._queue = queue

    def __call__(self, delivery: Delivery) -> None:
        try:
            envelope = load_message(delivery.body)
        except ContractError as exc:
            raise PermanentError(f"message {delivery.message_id} breaks its contract: {exc}") from (
                exc
            )
        if self._processed(envelope.id):
            logger.info("message %s already processed; acking the duplicate", envelope.id)
            metrics.observe_delivery(self._queue, "duplicate")
            return
        started = time.monotonic()
        unit = Unit(self._session_factory, envelope, actor=self._actor, deps=self._deps)
        attempt = delivery.retry_count + 1
        unit.step(
            None,
            "received",
            f"received {envelope.type} from {envelope.source} (attempt {attempt})",
            request={"message_id": envelope.id, "attempt": attempt},
        )
        try:
            handler_for(envelope.type)(unit)
        except RetryLater as exc:
            self._record_wait(unit, exc)
            raise
        except Exception as exc:
            failures = self._record_failure(unit, exc)
            if failures is not None and not isinstance(exc, PermanentError):
                raise PermanentError(
                    f"message {envelope.id} gave up after {failures} failed attempts: {exc}"
                ) from exc
            raise
        with self._session_factory.begin() as session:
            fresh = claim_inbox(
                session,
                envelope.id,
                message_type=envelope.type,
                source=MessageSource(envelope.source),
                routing_key=delivery.routing_key,
                correlation_id=envelope.correlation_id,
                payload=envelope.to_dict(),
            )
            if not fresh:
                # Kept with a record it created, or by an earlier failed attempt.
                logger.debug("message %s was stored before; marking it processed", envelope.id)
            unit.run_deferred(session)
            unit.flush_steps(session)
            mark_inbox_processed(session, envelope.id)
            self._kill(BEFORE_COMMIT)
        self._kill(AFTER_COMMIT)
        logger.info(
            "processed %s (%s) in %.0f ms",
            envelope.id,
            envelope.type,
            (time.monotonic() - started) * 1000,
        )

    def _processed(self, message_id: str) -> bool:
        with read_only_session(self._session_factory) as session:
            processed_at = session.scalar(
                select(InboxMessage.processed_at).where(InboxMessage.message_id == message_id)
            )
        return processed_at is not None

    def _record_failure(self, unit: Unit, exc: Exception) -> int | None:
        """Count the failure (unless it is an outage), commit the attempt's story.

        Returns the message's failure count when this failure is final, None when a retry
        follows (or when the database cannot even take the story: then the retry will tell it).
        Never masks the original error.
        """
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        outage = is_outage(exc)
        try:
            with self._session_factory.begin() as session:
                # The envelope is kept so the replay API can run the message again later.
                keep_message(session, unit.envelope)
                failures = (
                    None if outage else record_inbox_attempt(session, unit.envelope.id, error=error)
                )
                final = isinstance(exc, PermanentError) or (
                    failures is not None and failures > self._max_retries
                )
                if final:
                    action, outcome, summary = "failed", AuditOutcome.ERROR, "failed for good: "
                elif outage:
                    action, outcome, summary = "retried", AuditOutcome.RETRY, "waiting out: "
                else:
                    action, outcome = "retried", AuditOutcome.RETRY
                    limit = self._max_retries + 1
                    summary = f"failed (failure {failures} of {limit}), will retry: "
                targets: list[int | None] = list(unit.touched) or [None]
                for record_id in targets:
                    unit.step(
                        record_id, action, summary + str(exc)[:300], outcome=outcome, error=error
                    )
                    if record_id is None:
                        continue
                    record = session.get_one(SyncRecord, record_id)
                    record.attempts += 1
                    record.last_error = error
                    if record.state not in SETTLED_STATES:
                        record.state = RecordState.FAILED if final else RecordState.PENDING
                unit.flush_steps(session)
        except Exception:
            logger.exception("could not record the failure of %s", unit.envelope.id)
            return None
        if final:
            return failures if failures is not None else 1
        return None

    def _record_wait(self, unit: Unit, exc: RetryLater) -> None:
        """Another attempt is writing the same posting: a step in the story, not a failure.

        The records keep their state and error: the holder's outcome is theirs to tell.
        """
        try:
            with self._session_factory.begin() as session:
                unit.step(
                    unit.touched[0] if unit.touched else None,
                    "waiting",
                    f"will look again later: {exc}",
                    outcome=AuditOutcome.RETRY,
                )
                unit.flush_steps(session)
        except Exception:
            logger.exception("could not record the wait of %s", unit.envelope.id)
