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

Long windows (a backfill of months) run in flat memory: each list is read a page at a time and
every object is published as it arrives; at most ``MAX_IN_FLIGHT`` publishes wait for their
broker confirm at once (past that, the oldest is awaited before the next goes out, which keeps
the pipelining that makes confirms cheap without holding the whole window in memory); and the
charges that refunds point at are cached in a small LRU only (refunds of one charge are listed
close together).

Every message must be confirmed. The summary counts what was published per type and what failed,
and a failure makes the command exit non-zero so the CronJob tries again. With a cursor file
(``--cursor``), the position of each source is saved after every page, once every message of the
page is confirmed, so an interrupted run resumes where it stopped instead of starting over: a
source's position is the id of the last object of its last confirmed page (lists are newest
first), and the next run lists on with ``starting_after`` it; ``poll_state.py`` explains why
that skips nothing. After a failed publish the source's position stops moving, so the retry
republishes from the failed page on: republishing a few messages is harmless (message ids are
deterministic), skipping one is not.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import stripe

from mlconnector.bus import Publisher
from mlconnector.bus import PublishError
from mlconnector.contracts import Envelope
from mlconnector.poll_progress import PollProgress
from stripe_gateway.adapters.calls import PAGE_SIZE
from stripe_gateway.adapters.stripe_client import API_VERSION
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.envelopes import backfill_envelope
from stripe_gateway.envelopes import encode
from stripe_gateway.envelopes import event_envelope
from stripe_gateway.events import HANDLED_EVENTS
from stripe_gateway.poll_state import OBJECT_SOURCES
from stripe_gateway.poll_state import PollState
from stripe_gateway.poll_state import Source
from stripe_gateway.poll_state import plan
from stripe_gateway.polling_window import RETENTION_MARGIN_S as RETENTION_MARGIN_S
from stripe_gateway.polling_window import RETENTION_S as RETENTION_S
from stripe_gateway.polling_window import Window as Window
from stripe_gateway.polling_window import split as split

logger = logging.getLogger(__name__)

LOOKBACK_S = 400 * 86400
CONFIRM_TIMEOUT_S = 30.0
# A few hundred confirms in flight keep the broker busy; more would only hold memory.
MAX_IN_FLIGHT = 500
CHARGE_CACHE_SIZE = 256

Meta = dict[str, Any]
SaveState = Callable[[PollState], None]


@dataclasses.dataclass
class PollSummary:
    window: Window
    events_window: Window | None = None
    backfill_window: Window | None = None
    published: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failed: int = 0
    # Messages a previous, interrupted run had confirmed (included in ``published``).
    resumed: int = 0

    def total(self) -> int:
        return sum(self.published.values())

    def lines(self) -> list[str]:
        out = [f"window {self.window.describe()}"]
        if self.events_window:
            out.append(f"  from events:  {self.events_window.describe()}")
        if self.backfill_window:
            out.append(f"  from objects: {self.backfill_window.describe()} (past event retention)")
        if self.resumed:
            out.append(f"  resumed from the cursor: {self.resumed} published by earlier runs")
        for event_type in HANDLED_EVENTS:
            out.append(f"  {event_type}: {self.published.get(event_type, 0)} published")
        out.append(f"total: {self.total()} published, {self.failed} failed")
        return out


@dataclasses.dataclass(frozen=True)
class Listed:
    """One object read from a list, and the messages it gives (none when it is filtered out)."""

    object_id: str
    envelopes: tuple[Envelope, ...]


Lister = Callable[[StripeClient, Window, dict[str, str], Meta], Iterator[Listed]]


def _plain(obj: stripe.StripeObject) -> dict[str, Any]:
    return obj.to_dict(for_json=True)


def _backfill(
    event_type: str, obj: dict[str, Any], occurred: int, meta: Meta, **extra: Any
) -> Envelope:
    return backfill_envelope(
        event_type, obj, occurred_at=occurred, api_version=API_VERSION, **meta, **extra
    )


def list_events(
    client: StripeClient, window: Window, start: dict[str, str], meta: Meta
) -> Iterator[Listed]:
    """Every handled event created in ``window``, as the webhook would publish it."""
    params = {**window.params(), "types": list(HANDLED_EVENTS), **start}
    for event in client.list_events(params):
        yield Listed(event.id, (event_envelope(event.to_dict(for_json=True), **meta),))


def list_invoices(
    client: StripeClient, window: Window, start: dict[str, str], meta: Meta
) -> Iterator[Listed]:
    """Paid invoices (created up to ``LOOKBACK_S`` earlier) whose payment is in ``window``."""
    lookback = {"created": {"gte": window.since - LOOKBACK_S, "lt": window.until}}
    for invoice in client.list_invoices({**lookback, "status": "paid", **start}):
        paid_at = getattr(invoice.status_transitions, "paid_at", None)
        if isinstance(paid_at, int) and paid_at in window:
            yield Listed(invoice.id, (_backfill("invoice.paid", _plain(invoice), paid_at, meta),))
        else:
            yield Listed(invoice.id, ())


def list_charges(
    client: StripeClient, window: Window, start: dict[str, str], meta: Meta
) -> Iterator[Listed]:
    """Succeeded charges created in ``window``."""
    for charge in client.list_charges({**window.params(), **start}):
        if charge.status == "succeeded":
            envelope = _backfill("charge.succeeded", _plain(charge), charge.created, meta)
            yield Listed(charge.id, (envelope,))
        else:
            yield Listed(charge.id, ())


def list_refunds(
    client: StripeClient, window: Window, start: dict[str, str], meta: Meta
) -> Iterator[Listed]:
    """One ``charge.refunded`` per refund created in ``window``, carrying its charge."""

    @functools.lru_cache(maxsize=CHARGE_CACHE_SIZE)
    def charge_of(charge_id: str) -> dict[str, Any]:
        return _plain(client.retrieve_charge(charge_id))

    for refund in client.list_refunds({**window.params(), **start}):
        charge = refund.charge
        charge_id = charge if isinstance(charge, str) else getattr(charge, "id", None)
        if not charge_id:
            yield Listed(refund.id, ())
            continue
        envelope = _backfill(
            "charge.refunded", charge_of(charge_id), refund.created, meta, identity=refund.id
        )
        yield Listed(refund.id, (envelope,))


def list_payouts(
    client: StripeClient, window: Window, start: dict[str, str], meta: Meta
) -> Iterator[Listed]:
    """Payouts created in ``window``: paid, and/or with their reconciliation completed."""
    for payout in client.list_payouts({**window.params(), **start}):
        envelopes = []
        if payout.status == "paid":
            occurred = payout.arrival_date or payout.created
            envelopes.append(_backfill("payout.paid", _plain(payout), occurred, meta))
        if getattr(payout, "reconciliation_status", None) == "completed":
            envelopes.append(
                _backfill("payout.reconciliation_completed", _plain(payout), payout.created, meta)
            )
        yield Listed(payout.id, tuple(envelopes))


LISTERS: dict[str, Lister] = {
    "events": list_events,
    "invoices": list_invoices,
    "charges": list_charges,
    "refunds": list_refunds,
    "payouts": list_payouts,
}


def _stale_position(exc: Exception) -> bool:
    """Stripe no longer knows the object a stored position names (an event past retention)."""
    error = exc.error if isinstance(exc, StripeCallError) else exc
    return (
        isinstance(error, stripe.StripeError)
        and error.code == "resource_missing"
        and getattr(error, "param", None) == "starting_after"
    )


def _listed(
    client: StripeClient, source: Source, meta: Meta, summary: PollSummary
) -> Iterator[Listed]:
    """The source's objects after its position; from its start if the position is gone."""
    lister = LISTERS[source.name]
    start = {"starting_after": source.after} if source.after else {}
    items = lister(client, source.window, start, meta)
    if not start:
        yield from items
        return
    try:
        first = next(items)
    except StopIteration:
        return
    except (StripeCallError, stripe.InvalidRequestError) as exc:
        if not _stale_position(exc):
            raise
        logger.warning(
            "%s: the stored position %s no longer exists; listing the source from its start",
            source.name,
            source.after,
        )
        summary.published.subtract(source.published)
        summary.resumed -= sum(source.published.values())
        source.after, source.published = None, collections.Counter()
        yield from lister(client, source.window, {}, meta)
        return
    yield first
    yield from items


@dataclasses.dataclass
class _Pending:
    future: concurrent.futures.Future[None]
    message_id: str
    event_type: str


class _Flight:
    """Publishes awaiting their confirm, oldest first and at most ``limit`` of them.

    At the end of each page every confirm of the page is awaited (a few milliseconds against a
    page request's tens), and only then does the source's position move to the page's last
    object, with the page's count. After a failed publish the position stays where it was, so
    the next run republishes from there; the run carries on to count and publish the rest.
    """

    def __init__(
        self, publisher: Publisher, summary: PollSummary, limit: int, correlation_id: str
    ) -> None:
        self._publisher = publisher
        self._summary = summary
        self._limit = max(1, limit)
        self._correlation_id = correlation_id
        self._queue: collections.deque[_Pending] = collections.deque()
        self._page_counts: collections.Counter[str] = collections.Counter()
        self.blocked = False

    def begin(self) -> None:
        self.blocked = False
        self._page_counts.clear()

    def publish(self, envelope: Envelope) -> None:
        try:
            future = self._publisher.publish_async(
                envelope.routing_key,
                encode(envelope),
                message_id=envelope.id,
                correlation_id=self._correlation_id,
            )
        except PublishError as exc:
            self._fail(envelope.id, "not queued", exc)
            return
        self._queue.append(_Pending(future, envelope.id, str(envelope.data["event_type"])))
        while len(self._queue) > self._limit:
            self._settle(self._queue.popleft())

    def page_done(self, source: Source, last: str | None) -> bool:
        """Await the page's confirms and move the position to ``last``; True if it moved."""
        while self._queue:
            self._settle(self._queue.popleft())
        counts, self._page_counts = self._page_counts, collections.Counter()
        if self.blocked or last is None:
            return False
        source.published.update(counts)
        moved, source.after = source.after != last, last
        return moved

    def _settle(self, pending: _Pending) -> None:
        try:
            pending.future.result(timeout=CONFIRM_TIMEOUT_S)
        except (PublishError, concurrent.futures.TimeoutError) as exc:
            self._fail(pending.message_id, "not confirmed", exc)
            return
        self._summary.published[pending.event_type] += 1
        self._page_counts[pending.event_type] += 1

    def _fail(self, message_id: str, what: str, exc: BaseException) -> None:
        self._summary.failed += 1
        self.blocked = True
        logger.error("message %s %s: %r", message_id, what, exc)


def poll(
    client: StripeClient,
    publisher: Publisher,
    window: Window,
    *,
    now: int,
    correlation_id: str,
    state: PollState | None = None,
    save: SaveState | None = None,
    progress: PollProgress | None = None,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> PollSummary:
    """List the window's events (or objects past retention) and publish each, confirmed.

    ``state`` is where to start (a fresh plan of ``window`` by default, or a stored one to
    resume); ``save`` is called with it after every page that moved a position (once the page
    is confirmed), after every source, and at the end (``state.finished`` is then true if
    nothing failed).
    """
    state = state if state is not None else plan(window, now)
    summary = PollSummary(
        state.window,
        events_window=state.part("events"),
        backfill_window=state.part(*OBJECT_SOURCES),
        published=state.published(),
    )
    summary.resumed = summary.total()
    meta: Meta = {"correlation_id": correlation_id, "received_at": dt.datetime.now(dt.UTC)}
    flight = _Flight(publisher, summary, max_in_flight, correlation_id)

    def page_done(source: Source, last: str | None) -> None:
        if flight.page_done(source, last) and save is not None:
            save(state)
        if progress is not None:
            progress.page(source.name, summary.total())

    for source in state.sources:
        if source.done:
            continue
        flight.begin()
        last: str | None = None
        count = 0
        for item in _listed(client, source, meta, summary):
            for envelope in item.envelopes:
                flight.publish(envelope)
            last = item.object_id
            count += 1
            if count % PAGE_SIZE == 0:
                page_done(source, last)
        if count % PAGE_SIZE or not count:
            page_done(source, last)
        source.done = not flight.blocked
        if save is not None:
            save(state)
        logger.info(
            "%s: %d objects listed in %s%s",
            source.name,
            count,
            source.window.describe(),
            "" if source.done else " (a publish failed: the position stays before it)",
        )
    state.finished = all(source.done for source in state.sources)
    if save is not None:
        save(state)
    return summary
