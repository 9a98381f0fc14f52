"""``stripe-gateway poll``: publish what webhooks may have missed, from a time window.

Run from a CronJob (``poll --since-minutes 90`` every hour: windows overlap on purpose, the
reconciler de-duplicates on the message id). Inside Stripe's 30-day event retention it lists
``GET /v1/events`` for the handled types, every page, and publishes each event exactly as the
webhook would (same envelope, message id = event id). Older parts of a window have no events
left, so the objects themselves are listed instead and published as deterministic backfill
messages (``envelopes.backfill_envelope``: ``poll:<type>:<id>``):

- ``invoice.paid``: paid invoices whose ``status_transitions.paid_at`` is in the window (invoices
  created up to ``LOOKBACK_S`` before the window are considered);
- ``charge.succeeded``: succeeded charges created in the window;
- ``charge.refunded``: one message per refund created in the window, carrying its charge;
- ``payout.paid`` / ``payout.reconciliation_completed``: payouts created in the window that are
  paid / whose reconciliation completed.

Publishes are pipelined (many confirms in flight) and every one must be confirmed; the summary
counts what was published per type and what failed, and a failure makes the command exit
non-zero so the CronJob tries again.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import stripe

from mlconnector.bus import Publisher
from mlconnector.bus import PublishError
from mlconnector.contracts import Envelope
from stripe_gateway.adapters.stripe_client import API_VERSION
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.envelopes import backfill_envelope
from stripe_gateway.envelopes import encode
from stripe_gateway.envelopes import event_envelope
from stripe_gateway.events import HANDLED_EVENTS

logger = logging.getLogger(__name__)

RETENTION_S = 30 * 86400
# Events close to the retention edge may expire while we page; treat the last hour as gone.
RETENTION_MARGIN_S = 3600
LOOKBACK_S = 400 * 86400
CONFIRM_TIMEOUT_S = 30.0


@dataclasses.dataclass(frozen=True)
class Window:
    """A half-open time range ``[since, until)`` in unix seconds."""

    since: int
    until: int

    def params(self) -> dict[str, Any]:
        return {"created": {"gte": self.since, "lt": self.until}}

    def __contains__(self, timestamp: object) -> bool:
        return isinstance(timestamp, int) and self.since <= timestamp < self.until

    def describe(self) -> str:
        def iso(ts: int) -> str:
            return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()

        return f"[{iso(self.since)}, {iso(self.until)})"


def split(window: Window, now: int) -> tuple[Window | None, Window | None]:
    """(part to backfill from objects, part to read from events) of ``window``."""
    edge = now - RETENTION_S + RETENTION_MARGIN_S
    if window.until <= edge:
        return window, None
    if window.since >= edge:
        return None, window
    return Window(window.since, edge), Window(edge, window.until)


@dataclasses.dataclass
class PollSummary:
    window: Window
    events_window: Window | None = None
    backfill_window: Window | None = None
    published: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failed: int = 0

    def lines(self) -> list[str]:
        out = [f"window {self.window.describe()}"]
        if self.events_window:
            out.append(f"  from events:  {self.events_window.describe()}")
        if self.backfill_window:
            out.append(f"  from objects: {self.backfill_window.describe()} (past event retention)")
        for event_type in HANDLED_EVENTS:
            out.append(f"  {event_type}: {self.published.get(event_type, 0)} published")
        out.append(f"total: {sum(self.published.values())} published, {self.failed} failed")
        return out


def event_envelopes(client: StripeClient, window: Window, **meta: Any) -> Iterator[Envelope]:
    """Every handled event created in ``window``, as the webhook would publish it."""
    params = {**window.params(), "types": list(HANDLED_EVENTS)}
    for event in client.list_events(params):
        yield event_envelope(event.to_dict(for_json=True), **meta)


def _plain(obj: stripe.StripeObject) -> dict[str, Any]:
    return obj.to_dict(for_json=True)


def backfill_envelopes(client: StripeClient, window: Window, **meta: Any) -> Iterator[Envelope]:
    """Deterministic messages for the handled events' objects in ``window``."""

    def envelope(event_type: str, obj: dict[str, Any], occurred: int, **extra: Any) -> Envelope:
        return backfill_envelope(
            event_type, obj, occurred_at=occurred, api_version=API_VERSION, **meta, **extra
        )

    lookback = {"created": {"gte": window.since - LOOKBACK_S, "lt": window.until}}
    for invoice in client.list_invoices({**lookback, "status": "paid"}):
        paid_at = getattr(invoice.status_transitions, "paid_at", None)
        if isinstance(paid_at, int) and paid_at in window:
            yield envelope("invoice.paid", _plain(invoice), paid_at)
    for charge in client.list_charges(window.params()):
        if charge.status == "succeeded":
            yield envelope("charge.succeeded", _plain(charge), charge.created)
    charges: dict[str, dict[str, Any]] = {}
    for refund in client.list_refunds(window.params()):
        charge_id = (
            refund.charge if isinstance(refund.charge, str) else getattr(refund.charge, "id", None)
        )
        if not charge_id:
            continue
        if charge_id not in charges:
            charges[charge_id] = _plain(client.retrieve_charge(charge_id))
        yield envelope("charge.refunded", charges[charge_id], refund.created, identity=refund.id)
    for payout in client.list_payouts(window.params()):
        if payout.status == "paid":
            yield envelope("payout.paid", _plain(payout), payout.arrival_date or payout.created)
        if getattr(payout, "reconciliation_status", None) == "completed":
            yield envelope("payout.reconciliation_completed", _plain(payout), payout.created)


def poll(
    client: StripeClient,
    publisher: Publisher,
    window: Window,
    *,
    now: int,
    correlation_id: str,
) -> PollSummary:
    """List the window's events (or objects past retention) and publish each, confirmed."""
    backfill_part, events_part = split(window, now)
    summary = PollSummary(window, events_window=events_part, backfill_window=backfill_part)
    meta = {"correlation_id": correlation_id, "received_at": dt.datetime.now(dt.UTC)}
    sources: list[Iterator[Envelope]] = []
    if events_part is not None:
        sources.append(event_envelopes(client, events_part, **meta))
    if backfill_part is not None:
        sources.append(backfill_envelopes(client, backfill_part, **meta))
    pending: list[tuple[Envelope, concurrent.futures.Future[None]]] = []
    for source in sources:
        for env in source:
            try:
                future = publisher.publish_async(
                    env.routing_key, encode(env), message_id=env.id, correlation_id=correlation_id
                )
            except PublishError as exc:
                summary.failed += 1
                logger.error("message %s not queued: %r", env.id, exc)
                continue
            pending.append((env, future))
    for env, future in pending:
        try:
            future.result(timeout=CONFIRM_TIMEOUT_S)
        except (PublishError, concurrent.futures.TimeoutError) as exc:
            summary.failed += 1
            logger.error("message %s not confirmed: %r", env.id, exc)
        else:
            summary.published[env.data["event_type"]] += 1
    return summary
