"""Webhook notification sender: batching, ``collection``, retries, subscription deletion.

Mirrors codeunit 6154 as bc-api.md §7.4-7.6 describes it. Changes are collected per
subscription and sent ``notification_delay_seconds`` after the *first* change (30 s online);
repeated changes of one entity collapse. Due notifications for subscriptions sharing a
``notificationUrl`` go in one POST (payload and HTTP in ``webhook_delivery.py``).
A 2xx within the timeout is success; 408, 429, 5xx, a timeout or no connection are retried on the
configured schedule and the subscription is deleted once the attempt number exceeds
``max_retry_attempt``; any other status drops the notifications and deletes the subscription.
Expired subscriptions are deleted. All HTTP happens on a background thread without locks held.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from bc_emulator.clock import Clock
from bc_emulator.config import RuntimeKnobs
from bc_emulator.store import ChangeEvent
from bc_emulator.store import Store
from bc_emulator.store import Subscription
from bc_emulator.webhook_delivery import Delivery
from bc_emulator.webhook_delivery import PendingBatch
from bc_emulator.webhook_delivery import build_elements
from bc_emulator.webhook_delivery import is_retryable
from bc_emulator.webhook_delivery import post_notifications

logger = logging.getLogger(__name__)


class Notifier:
    """Collects change events and delivers them from a daemon thread."""

    def __init__(self, store: Store, knobs: RuntimeKnobs, clock: Clock) -> None:
        self._store = store
        self._knobs = knobs
        self._clock = clock
        self._cond = threading.Condition()
        self._batches: dict[str, PendingBatch] = {}
        self._deliveries: list[Delivery] = []
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.log: list[dict[str, Any]] = []
        store.listeners.append(self.record)

    # -- producer side (called with the store lock held) -------------------------------
    def record(self, event: ChangeEvent) -> None:
        """Queue an event for every live subscription on its company and entity set."""
        env = self._store.environment(event.tenant, event.environment)
        if env is None:
            return
        now = self._clock.now()
        targets = [
            s
            for s in env.subscriptions.values()
            if s.company_id == event.company_id
            and s.entity_set == event.entity_set
            and s.expiration > now
        ]
        if not targets:
            return
        with self._cond:
            for sub in targets:
                batch = self._batches.get(sub.id)
                if batch is None:
                    batch = self._batches[sub.id] = PendingBatch(
                        sub, event.at, event.at + self._delay()
                    )
                previous = batch.items.get(event.key)
                change = event.change_type
                if previous is not None and change == "updated":
                    change = previous[0]  # created/updated followed by updated stays as it was
                batch.items[event.key] = (change, event.at)
                batch.has_delete = batch.has_delete or change == "deleted"
            self._ensure_thread()
            self._cond.notify_all()

    # -- control ---------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="bc-notifier", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Re-evaluate due times now (after the clock moved)."""
        with self._cond:
            self._ensure_thread()
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Make everything pending due now and wait until it has been attempted."""
        deadline = time.monotonic() + timeout
        with self._cond:
            cutoff = self._clock.now()
            targets = set(self._batches)
            for batch in self._batches.values():
                batch.due = min(batch.due, cutoff)
            for delivery in self._deliveries:
                delivery.due = min(delivery.due, cutoff)
            self._ensure_thread()
            self._cond.notify_all()
            while (
                targets & set(self._batches)
                or any(d.due <= cutoff for d in self._deliveries)
                or self._busy
            ):
                if time.monotonic() >= deadline:
                    break
                self._cond.wait(0.02)

    def pending(self) -> dict[str, Any]:
        """Admin view of queued work."""
        with self._cond:
            return {
                "batches": [
                    {"subscriptionId": b.subscription.id, "count": len(b.items), "first": b.first}
                    for b in self._batches.values()
                ],
                "deliveries": [
                    {"id": d.id, "url": d.url, "attempt": d.attempt, "due": d.due}
                    for d in self._deliveries
                ],
            }

    def reset(self) -> None:
        """Drop queued work and the delivery log."""
        with self._cond:
            self._batches.clear()
            self._deliveries.clear()
            self.log.clear()

    def stop(self) -> None:
        """Stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- consumer side ---------------------------------------------------------------
    def _delay(self) -> timedelta:
        return timedelta(seconds=self._knobs.config.notification_delay_seconds)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                self._busy = True
            try:
                self._expire()
                self._promote_due_batches()
                self._send_due()
            except Exception:  # the sender must survive anything a receiver does
                logger.exception("notification sender failed")
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                if self._stopping:
                    return
                self._cond.wait(self._sleep_time())

    def _sleep_time(self) -> float:
        now = self._clock.now()
        dues = [b.due for b in self._batches.values()]
        dues += [d.due for d in self._deliveries]
        if not dues:
            return 1.0
        return max(0.005, min(1.0, (min(dues) - now).total_seconds()))

    def _expire(self) -> None:
        now = self._clock.now()
        with self._store.lock:
            expired = [
                s
                for env in self._store.environments.values()
                for s in env.subscriptions.values()
                if s.expiration <= now
            ]
        if expired:
            self._delete(expired, "expired")

    def _promote_due_batches(self) -> None:
        now = self._clock.now()
        with self._cond:
            due = [b for b in self._batches.values() if b.due <= now]
            for batch in due:
                del self._batches[batch.subscription.id]
        by_url: dict[str, Delivery] = {}
        for batch in due:
            sub = batch.subscription
            delivery = by_url.setdefault(
                sub.notification_url, Delivery(sub.notification_url, [], [], now)
            )
            delivery.elements.extend(build_elements(batch, self._knobs.config.collection_threshold))
            delivery.subscriptions.append(sub)
        with self._cond:
            self._deliveries.extend(by_url.values())

    def _send_due(self) -> None:
        while True:
            now = self._clock.now()
            with self._cond:
                delivery = next((d for d in self._deliveries if d.due <= now), None)
                if delivery is None:
                    return
                self._deliveries.remove(delivery)
            self._attempt(delivery)

    def _live(self, subs: list[Subscription]) -> list[Subscription]:
        with self._store.lock:
            return [
                s
                for s in subs
                if (env := self._store.environment(s.tenant, s.environment)) is not None
                and env.subscriptions.get(s.id) is s
            ]

    def _attempt(self, delivery: Delivery) -> None:
        live = self._live(delivery.subscriptions)
        live_ids = {s.id for s in live}
        delivery.elements = [e for e in delivery.elements if e["subscriptionId"] in live_ids]
        delivery.subscriptions = live
        if not delivery.elements:
            return
        status, error = post_notifications(delivery, self._knobs.config)
        outcome = self._outcome(delivery, status)
        self.log.append(
            {
                "deliveryId": delivery.id,
                "url": delivery.url,
                "attempt": delivery.attempt,
                "status": status,
                "error": error,
                "outcome": outcome,
                "at": self._clock.now(),
                "subscriptionIds": sorted(live_ids),
                "notifications": delivery.elements,
            }
        )

    def _outcome(self, delivery: Delivery, status: int | None) -> str:
        cfg = self._knobs.config
        if status is not None and 200 <= status < 300:
            return "delivered"
        if not is_retryable(status):
            self._delete(delivery.subscriptions, f"receiver answered {status}")
            return "subscription-deleted"
        if delivery.attempt + 1 > cfg.max_retry_attempt:
            self._delete(delivery.subscriptions, "too many failed attempts")
            return "subscription-deleted"
        delays = cfg.retry_delays_seconds or (60.0,)
        delay = delays[min(delivery.attempt, len(delays) - 1)]
        delivery.attempt += 1
        delivery.due = self._clock.now() + timedelta(seconds=delay)
        with self._cond:
            self._deliveries.append(delivery)
        return "retry-scheduled"

    def _delete(self, subs: list[Subscription], reason: str) -> None:
        with self._store.lock:
            for sub in subs:
                env = self._store.environment(sub.tenant, sub.environment)
                if env is not None and env.subscriptions.get(sub.id) is sub:
                    del env.subscriptions[sub.id]
                    logger.info("deleted webhook subscription %s: %s", sub.id, reason)
        ids = {s.id for s in subs}
        with self._cond:
            for sub_id in ids:
                self._batches.pop(sub_id, None)
            for d in self._deliveries:
                d.subscriptions = [s for s in d.subscriptions if s.id not in ids]
                d.elements = [e for e in d.elements if e["subscriptionId"] not in ids]
            self._deliveries = [d for d in self._deliveries if d.elements]
