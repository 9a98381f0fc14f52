"""The per-message context handlers work through: records, audit steps, short transactions.

A handler never holds a database transaction open while it calls a gateway. It commits what
must exist before an external effect (the record, a posting claim) in a short ``tx()``, calls
the gateway, then commits the result in another. Audit steps are collected as they happen and
written with the next transaction, or by the processor when the handler fails, so a failed
attempt still leaves its story: what was fetched, what was decided, which call failed and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from typing import TypeVar

from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.contracts import Envelope
from mlconnector.db import read_only_session
from mlconnector.db import utcnow
from mlconnector.redaction import redact
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.store import keep_message

T = TypeVar("T")

# Errors are kept for people to read; a whole traceback per retry would bloat the table.
MAX_ERROR_LENGTH = 2000


@dataclasses.dataclass
class Step:
    record_id: int | None
    action: str
    summary: str
    outcome: AuditOutcome
    request: Any = None
    response: Any = None
    duration_ms: int | None = None
    error: str | None = None
    # When the step happened, not when it was written: the story keeps its real timeline.
    at: datetime = dataclasses.field(default_factory=utcnow)


class Unit:
    """Everything a handler needs for one message; built by the processor per delivery."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        envelope: Envelope,
        *,
        actor: str,
        deps: Any,
    ) -> None:
        self.envelope = envelope
        self.deps = deps
        self._session_factory = session_factory
        self._actor = actor
        self._steps: list[Step] = []
        self.touched: list[int] = []
        # Records this message created (``record``): a fresh record has no earlier attempt whose
        # outcome could be unknown, so handlers skip their recovery look-ups for it.
        self.created: set[int] = set()
        # Names this handling attempt in the leases it takes (``store.claim_posting``): a
        # redelivery of the same message is another attempt and must wait for a live lease.
        self.holder = f"{envelope.id[:80]}/{secrets.token_hex(6)}"
        self._deferred: list[Callable[[Session], None]] = []

    # -- transactions ---------------------------------------------------------------------

    def later(self, write: Callable[[Session], None]) -> None:
        """A write that can wait for the processor's closing transaction (issue 15).

        SQLite has one writer at a time, and each transaction is a turn at its lock: a write
        no later step of the handler depends on (a note on a link, say) rides along with the
        transaction that marks the message processed instead of taking a turn of its own. It
        is lost with the message's other effects if the handler fails, and done by the retry.
        """
        self._deferred.append(write)

    def run_deferred(self, session: Session) -> None:
        """Apply the writes ``later`` collected, inside the caller's transaction."""
        for write in self._deferred:
            write(session)
        self._deferred.clear()

    @contextlib.contextmanager
    def tx(self) -> Iterator[Session]:
        """A short write transaction; pending audit steps are written with it."""
        with self._session_factory.begin() as session:
            yield session
            self.flush_steps(session)

    def read(self, query: Callable[[Session], T]) -> T:
        """Run a read-only query in its own short session."""
        with read_only_session(self._session_factory) as session:
            return query(session)

    def flush_steps(self, session: Session) -> None:
        """Write the pending steps in one multi-row INSERT (audit rows are never updated)."""
        if not self._steps:
            return
        # Steps taken before any record existed (receiving, a first fetch) belong to the story
        # of the first record the message touched.
        default_record = self.touched[0] if self.touched else None
        rows = [
            {
                "record_id": step.record_id if step.record_id is not None else default_record,
                "message_id": self.envelope.id,
                "action": step.action,
                "summary": redact(step.summary),
                "request_summary": step.request,
                "response_summary": step.response,
                "outcome": step.outcome,
                "duration_ms": step.duration_ms,
                "actor": self._actor,
                "correlation_id": self.envelope.correlation_id,
                "error": None if step.error is None else redact(step.error)[:MAX_ERROR_LENGTH],
                "created_at": step.at,
            }
            for step in self._steps
        ]
        session.execute(insert(AuditEvent), rows)
        self._steps.clear()

    # -- records and steps ----------------------------------------------------------------

    def record(self, kind: RecordKind, business_key: str, **fields: Any) -> int:
        """Get or create the record for a business key (committed now); returns its id.

        Fields are set on creation only; later changes go through ``update``.
        """

        def find(session: Session) -> SyncRecord | None:
            return session.scalar(
                select(SyncRecord).where(
                    SyncRecord.kind == kind, SyncRecord.business_key == business_key
                )
            )

        existing = self.read(find)
        if existing is None:
            try:
                with self.tx() as session:
                    # The message is kept with the record it creates, so the record can be
                    # replayed from the moment it exists, even while its message waits on
                    # another attempt's lease and has not finished (or failed) yet.
                    keep_message(session, self.envelope)
                    record = SyncRecord(
                        kind=kind,
                        business_key=business_key,
                        state=RecordState.PENDING,
                        source_message_id=self.envelope.id,
                        correlation_id=self.envelope.correlation_id,
                        **fields,
                    )
                    session.add(record)
                    session.flush()
                    record_id = record.id
                    self.touch(record_id)
                self.created.add(record_id)
            except Exception:
                # A concurrent delivery created it first (unique kind + business key).
                existing = self.read(find)
                if existing is None:
                    raise
                record_id = existing.id
        else:
            record_id = existing.id
        self.touch(record_id)
        return record_id

    def touch(self, record_id: int) -> None:
        """Count the record among those this message touched (its story gets the steps)."""
        if record_id not in self.touched:
            self.touched.append(record_id)

    def update(self, record_id: int, **fields: Any) -> None:
        """Change a record's fields (state, refs, amounts, flags, errors) in a short transaction."""
        with self.tx() as session:
            self.set_fields(session, record_id, **fields)

    def add_flags(self, record_id: int, **flags: Any) -> None:
        """Add to a record's flags, keeping the others (a person's ``handled``, say)."""
        with self.tx() as session:
            record = session.get_one(SyncRecord, record_id)
            record.flags = {**(record.flags or {}), **flags}

    def settle(self, record_id: int, **fields: Any) -> None:
        """Like ``update``, but without a write when the record already reads so.

        A repeated message (a BC notification for an invoice long since linked, say) then
        costs a read, and its audit steps go with the processor's closing transaction.
        """
        record = self.read(lambda session: session.get(SyncRecord, record_id))
        if record is None or any(getattr(record, k) != v for k, v in fields.items()):
            self.update(record_id, **fields)

    @staticmethod
    def set_fields(session: Session, record_id: int, **fields: Any) -> None:
        """Change a record's fields inside the caller's transaction."""
        record = session.get_one(SyncRecord, record_id)
        for name, value in fields.items():
            setattr(record, name, value)

    def step(
        self,
        record_id: int | None,
        action: str,
        summary: str,
        *,
        outcome: AuditOutcome = AuditOutcome.OK,
        request: Any = None,
        response: Any = None,
        duration_ms: int | None = None,
        error: str | None = None,
    ) -> None:
        """Note an audit step; it is written with the next transaction."""
        self._steps.append(
            Step(record_id, action, summary, outcome, request, response, duration_ms, error)
        )

    def call(
        self,
        record_id: int | None,
        summary: str,
        fn: Callable[..., T],
        *args: Any,
        request: Any = None,
    ) -> T:
        """Call a gateway command, noting a timed ``called`` step with its outcome."""
        started = time.monotonic()
        try:
            result = fn(*args)
        except Exception as exc:
            self.step(
                record_id,
                "called",
                summary,
                outcome=AuditOutcome.ERROR,
                request=request,
                duration_ms=int((time.monotonic() - started) * 1000),
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        self.step(
            record_id,
            "called",
            summary,
            request=request,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return result

    def pending_steps(self) -> list[Step]:
        return list(self._steps)
