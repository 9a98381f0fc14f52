"""Webhook delivery: signed like Stripe, sent from a background thread, retried with back-off.

Each (event, endpoint) pair is a delivery. Every attempt gets a fresh `Stripe-Signature:
t=<now>,v1=<hex>[,v1=<hex>]` header, HMAC-SHA256 over `"{t}.{raw body}"` with each active
`whsec_` secret (two during a secret roll), per stripe-api.md §10 and reliability.md §4.2.
`t` is real wall time, because receivers check it against their own clock. Non-2xx answers,
redirects, timeouts and connection errors are retried after `retry_delays` (emulated seconds)
times `time_scale`; after the last delay the delivery is `failed`. Knobs: `duplicate_rate`
(send some events twice), `shuffle` (send due deliveries in random order, gathering them for
`shuffle_window` seconds), `drop_rate` (lose a delivery entirely: it stays pending on the
event, as when Stripe's attempts never reach the receiver), `paused` (only `flush` sends).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import requests

if TYPE_CHECKING:
    from .state import EmulatorState

logger = logging.getLogger(__name__)


def signature_header(payload: bytes, timestamp: int, secrets: list[str]) -> str:
    """`t=...,v1=...` with one v1 signature per secret."""
    signed = f"{timestamp}.".encode() + payload
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets]
    return ",".join(parts)


@dataclass
class Delivery:
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    body: bytes
    status: str = "pending"  # pending | succeeded | failed | dropped
    due: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    in_flight: bool = False
    duplicate: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event_id,
            "type": self.event_type,
            "endpoint": self.endpoint_id,
            "url": self.url,
            "status": self.status,
            "duplicate": self.duplicate,
            "attempts": list(self.attempts),
        }


class Dispatcher:
    """Owns the delivery queue and its worker thread."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._cond = threading.Condition()
        self._deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- queue -------------------------------------------------------------------------
    def enqueue(
        self, event_id: str, event_type: str, endpoint_id: str, url: str, body: bytes
    ) -> None:
        """Schedule delivery of one event to one endpoint (called under the state lock)."""
        config, rng = self._state.config, self._state.rng
        copies = 2 if rng.random() < config.duplicate_rate else 1
        with self._cond:
            for n in range(copies):
                delivery = Delivery(
                    f"dlv_{next(self._ids)}",
                    event_id,
                    event_type,
                    endpoint_id,
                    url,
                    body,
                    due=time.monotonic(),
                    duplicate=n > 0,
                )
                if rng.random() < config.drop_rate:
                    delivery.status = "dropped"
                self._deliveries.append(delivery)
            self._cond.notify_all()
        self._ensure_thread()

    def describe(
        self, event: str | None = None, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        with self._cond:
            return [
                d.describe()
                for d in self._deliveries
                if (event is None or d.event_id == event)
                and (endpoint is None or d.endpoint_id == endpoint)
            ]

    def reset(self) -> None:
        with self._cond:
            self._deliveries.clear()

    # -- sending -----------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> int:
        """Send every pending delivery now (even when paused); wait for in-flight ones.

        Returns the number of attempts made by this call.
        """
        with self._cond:
            batch = [d for d in self._deliveries if d.status == "pending" and not d.in_flight]
            for delivery in batch:
                delivery.in_flight = True
        if self._state.config.shuffle:
            self._state.rng.shuffle(batch)
        for delivery in batch:
            self._attempt(delivery)
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(d.in_flight for d in self._deliveries):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        return len(batch)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(
                target=self._run, name="stripe-emulator-webhooks", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
                if batch is None:
                    return
            if self._state.config.shuffle:
                self._state.rng.shuffle(batch)
            for delivery in batch:
                self._attempt(delivery)

    def _next_batch(self) -> list[Delivery] | None:
        """Wait (holding the condition) until deliveries are due; None when stopping."""
        while not self._stopping:
            config = self._state.config
            now = time.monotonic()
            pending = [d for d in self._deliveries if d.status == "pending" and not d.in_flight]
            due = [d for d in pending if d.due <= now] if not config.paused else []
            if due and config.shuffle and now - min(d.due for d in due) < config.shuffle_window:
                self._cond.wait(config.shuffle_window)
                continue
            if due:
                for delivery in due:
                    delivery.in_flight = True
                return due
            waits = [d.due - now for d in pending] if pending and not config.paused else []
            self._cond.wait(min(waits) if waits else 1.0)
        return None

    def _attempt(self, delivery: Delivery) -> None:
        secrets = self._state_secrets(delivery.endpoint_id)
        timestamp = int(time.time())
        record: dict[str, Any] = {"attempt": len(delivery.attempts) + 1, "timestamp": timestamp}
        ok = False
        if secrets is None:
            record["error"] = "endpoint deleted or disabled"
        else:
            header = signature_header(delivery.body, timestamp, secrets)
            record["signature"] = header
            ok = self._post(delivery, header, record)
        self._finish(delivery, ok, record, retry=secrets is not None)

    def _post(self, delivery: Delivery, header: str, record: dict[str, Any]) -> bool:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": header,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        try:
            response = requests.post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                timeout=self._state.config.delivery_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            return False
        record["response_status"] = response.status_code
        response.close()
        return 200 <= response.status_code < 300

    def _finish(self, delivery: Delivery, ok: bool, record: dict[str, Any], *, retry: bool) -> None:
        config = self._state.config
        with self._cond:
            delivery.attempts.append(record)
            delivery.in_flight = False
            attempts = len(delivery.attempts)
            if ok:
                delivery.status = "succeeded"
            elif retry and attempts <= len(config.retry_delays):
                delay = config.retry_delays[attempts - 1] * config.time_scale
                delivery.due = time.monotonic() + delay
            else:
                delivery.status = "failed"
            self._cond.notify_all()
        logger.debug(
            "webhook %s for %s to %s: attempt %d -> %s",
            delivery.id, delivery.event_id, delivery.endpoint_id, attempts, delivery.status,
        )  # fmt: skip
        if ok:
            self._mark_delivered(delivery)

    # -- state callbacks (take the state lock, never while holding the condition) --------
    def _state_secrets(self, endpoint_id: str) -> list[str] | None:
        state = self._state
        with state.lock:
            endpoint = state.store.get("webhook_endpoint", endpoint_id)
            if endpoint is None or endpoint.get("deleted") or endpoint["status"] != "enabled":
                return None
            now = state.clock.now()
            return [s for s, expires in endpoint["_secrets"] if expires is None or expires > now]

    def _mark_delivered(self, delivery: Delivery) -> None:
        state = self._state
        with state.lock:
            event = state.store.get("event", delivery.event_id)
            if event is not None and delivery.endpoint_id in event["_pending"]:
                event["_pending"].remove(delivery.endpoint_id)
                event["pending_webhooks"] = len(event["_pending"])
