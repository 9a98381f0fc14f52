"""The figures of the Today page, each one query over indexed columns.

- what moved since midnight in the firm's time zone, by kind and state;
- what waits for a person, by reason;
- each currency's Stripe clearing account as the last drift check saw it (BC against what
  Stripe holds in flight); the check itself runs daily and on a Clerk's request;
- the last message consumed from each side (webhook or poll);
- the last 30 days: invoices pushed, payments posted, and payment amounts per currency.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from reconciler.models import InboxMessage
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

DAYS = 30


@dataclasses.dataclass(frozen=True)
class Day:
    day: date
    invoices: int
    payments: int
    amounts: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Today:
    moved: dict[str, dict[str, int]]
    last_message: Mapping[str, datetime | None]
    clearing: list[SyncRecord]
    days: list[Day]

    @property
    def busiest(self) -> int:
        return max([1, *(max(d.invoices, d.payments) for d in self.days)])


def _day_column(session: Session, zone: str) -> Any:
    """The record's creation day in the firm's zone (PostgreSQL) or in UTC (SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(zone, SyncRecord.created_at))
    return func.date(SyncRecord.created_at)


def load_today(session: Session, zone: str, now: datetime | None = None) -> Today:
    now = now or datetime.now(UTC)
    local = now.astimezone(ZoneInfo(zone))
    midnight = datetime.combine(local.date(), time(), ZoneInfo(zone)).astimezone(UTC)
    moved: dict[str, dict[str, int]] = {}
    for kind, state, n in session.execute(
        select(SyncRecord.kind, SyncRecord.state, func.count())
        .where(SyncRecord.updated_at >= midnight)
        .group_by(SyncRecord.kind, SyncRecord.state)
    ).all():
        moved.setdefault(RecordKind(kind).value, {})[RecordState(state).value] = int(n)
    last_message = {
        str(source.value if hasattr(source, "value") else source): when
        for source, when in session.execute(
            select(InboxMessage.source, func.max(InboxMessage.first_seen_at)).group_by(
                InboxMessage.source
            )
        ).all()
    }
    latest = (
        select(SyncRecord.currency, func.max(SyncRecord.id).label("id"))
        .where(SyncRecord.kind == RecordKind.DRIFT)
        .group_by(SyncRecord.currency)
        .subquery()
    )
    clearing = list(
        session.scalars(
            select(SyncRecord)
            .join(latest, SyncRecord.id == latest.c.id)
            .order_by(SyncRecord.currency)
        )
    )
    start = datetime.combine(local.date() - timedelta(days=DAYS - 1), time(), UTC)
    day = _day_column(session, zone)
    per_day: dict[str, dict[str, Any]] = {}
    for d, kind, currency, n, total in session.execute(
        select(
            day,
            SyncRecord.kind,
            SyncRecord.currency,
            func.count(),
            func.coalesce(func.sum(SyncRecord.amount_minor), 0),
        )
        .where(
            SyncRecord.created_at >= start,
            SyncRecord.kind.in_([RecordKind.INVOICE, RecordKind.PAYMENT]),
            SyncRecord.state == RecordState.SUCCEEDED,
        )
        .group_by(day, SyncRecord.kind, SyncRecord.currency)
    ).all():
        entry = per_day.setdefault(str(d), {"invoices": 0, "payments": 0, "amounts": {}})
        if RecordKind(kind) is RecordKind.INVOICE:
            entry["invoices"] += int(n)
        else:
            entry["payments"] += int(n)
            if currency:
                entry["amounts"][currency] = entry["amounts"].get(currency, 0) + int(total)
    days = []
    for offset in range(DAYS - 1, -1, -1):
        d = local.date() - timedelta(days=offset)
        entry = per_day.get(d.isoformat(), {"invoices": 0, "payments": 0, "amounts": {}})
        days.append(Day(d, entry["invoices"], entry["payments"], entry["amounts"]))
    return Today(moved, last_message, clearing, days)
