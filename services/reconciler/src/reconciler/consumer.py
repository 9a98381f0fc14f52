"""The reconciler's consumer: contract check, inbox dedupe, handler, commit, then ack.

Each delivery is validated against its contract (a message that does not validate is poison and
is dead-lettered), then claimed in the ``inbox`` table in the same transaction as every effect
the handler records. If the claim finds the message already processed, the delivery is a
duplicate (a redelivery after a crash between commit and ack, or a sender's retry) and is acked
without doing anything. The runner acks only after this function returned, i.e. after the
commit; a crash anywhere before leaves the message to be redelivered and, thanks to the inbox,
processed exactly once.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import ConsumerRunner
from mlconnector.bus import Delivery
from mlconnector.bus import PermanentError
from mlconnector.bus import RetryPolicy
from mlconnector.config import Environment
from mlconnector.contracts import ContractError
from mlconnector.contracts import Envelope
from mlconnector.contracts import load_message
from reconciler.models import AuditAction
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import MessageSource
from reconciler.settings import SERVICE
from reconciler.settings import Settings
from reconciler.store import claim_inbox
from reconciler.store import mark_inbox_processed

logger = logging.getLogger(__name__)

# Kill points for crash tests (reliability.md §5.2); honoured only with MLC_ENVIRONMENT=test.
KILL_POINTS = ("after_claim", "after_commit")

MessageHandler = Callable[[Session, Envelope], None]


def record_receipt(session: Session, envelope: Envelope) -> None:
    """The first step of every message's story: what arrived, from where."""
    session.add(
        AuditEvent(
            message_id=envelope.id,
            action=AuditAction.RECEIVED,
            summary=f"received {envelope.type} from {envelope.source}",
            request_summary={
                "type": envelope.type,
                "occurred_at": envelope.occurred_at.isoformat(),
            },
            outcome=AuditOutcome.OK,
            actor=SERVICE,
            correlation_id=envelope.correlation_id,
        )
    )


class MessageProcessor:
    """Turns one delivery into one committed unit of work (or a retry/dead-letter signal)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        handle: MessageHandler = record_receipt,
        kill_point: str | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._handle = handle
        self._kill_point = kill_point

    def __call__(self, delivery: Delivery) -> None:
        try:
            envelope = load_message(delivery.body)
        except ContractError as exc:
            raise PermanentError(
                f"message {delivery.message_id} breaks its contract: {exc}"
            ) from exc
        started = time.monotonic()
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
                logger.info(
                    "message %s already processed; acknowledging the duplicate", envelope.id
                )
                return
            self._maybe_die("after_claim")
            self._handle(session, envelope)
            mark_inbox_processed(session, envelope.id)
        self._maybe_die("after_commit")
        logger.info(
            "processed %s (%s) in %.0f ms",
            envelope.id,
            envelope.type,
            (time.monotonic() - started) * 1000,
        )

    def _maybe_die(self, point: str) -> None:
        if self._kill_point == point:
            logger.warning("kill point %s reached: killing this process", point)
            os.kill(os.getpid(), signal.SIGKILL)


def build_runner(settings: Settings, session_factory: sessionmaker[Session]) -> ConsumerRunner:
    """The runner on the standard topology with the reconciler's processor."""
    kill_point = os.environ.get("MLC_KILL_POINT")
    if settings.common.environment is not Environment.TEST or kill_point not in KILL_POINTS:
        kill_point = None
    return ConsumerRunner(
        settings.common.amqp_url,
        settings.common.topology(),
        MessageProcessor(session_factory, kill_point=kill_point),
        prefetch=settings.prefetch,
        workers=settings.workers,
        retry=RetryPolicy(max_retries=settings.max_retries),
        heartbeat_file=settings.heartbeat_file,
        client_name=f"{SERVICE}-consumer",
    )
