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
from reconciler.models import MessageSource
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
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(), ZoneInfo(zone))
    moved: dict[str, dict[str, int]] = {}
    for kind, state, n in session.execute(
        select(SyncRecord.kind, SyncRecord.state, func.count())
        # Bounded on both sides: with only ">= midnight" SQLite's planner reads the whole
        # table in (kind, business_key) order instead of today's slice of the updated_at index.
        .where(SyncRecord.updated_at >= midnight, SyncRecord.updated_at < tomorrow.astimezone(UTC))
        .group_by(SyncRecord.kind, SyncRecord.state)
    ).all():
        moved.setdefault(RecordKind(kind).value, {})[RecordState(state).value] = int(n)
    # One max() per source: each is the last entry of the (source, first_seen_at) index, where
    # a GROUP BY over the inbox would read every message ever consumed.
    newest = select(
        *(
            select(func.max(InboxMessage.first_seen_at))
            .where(InboxMessage.source == source)
            .scalar_subquery()
            .label(source.value)
            for source in MessageSource
        )
    )
    last_message = {
        source: when for source, when in session.execute(newest).one()._asdict().items() if when
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
    counted = SyncRecord.kind.in_([RecordKind.INVOICE, RecordKind.PAYMENT]) & (
        SyncRecord.state == RecordState.SUCCEEDED
    )
    for d, kind, currency, n, total in session.execute(
        select(
            day,
            SyncRecord.kind,
            SyncRecord.currency,
            func.count().filter(counted),
            func.coalesce(func.sum(SyncRecord.amount_minor).filter(counted), 0),
        )
        # Only the dates in WHERE, the kinds and the state in the aggregates: given them there,
        # SQLite's planner reads the table through the state or the (kind, business_key) index
        # (90 days of records, 70-230 ms on 100,000) instead of 30 days of created_at's index.
        .where(SyncRecord.created_at >= start)
        .group_by(day, SyncRecord.kind, SyncRecord.currency)
    ).all():
        if not n:
            continue
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
