"""The console's lines in the audit trail: every person's action, with their name and reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.logging import new_correlation_id
from mlconnector.redaction import redact
from reconciler.console.roles import Person
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome


def person_event(
    person: Person,
    action: str,
    summary: str,
    *,
    record_id: int | None = None,
    details: dict[str, Any] | None = None,
    outcome: AuditOutcome = AuditOutcome.OK,
) -> AuditEvent:
    """An audit row naming the person (display name, sign-in name, object id)."""
    return AuditEvent(
        record_id=record_id,
        action=action,
        summary=redact(summary),
        request_summary={"person": person.name, "oid": person.oid, **(details or {})},
        outcome=outcome,
        actor=person.actor,
        correlation_id=new_correlation_id(),
    )


def record_person_event(
    session_factory: sessionmaker[Session],
    person: Person,
    action: str,
    summary: str,
    **kwargs: Any,
) -> None:
    """Write one person event in its own transaction."""
    with session_factory.begin() as session:
        session.add(person_event(person, action, summary, **kwargs))
