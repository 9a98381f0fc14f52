"""End to end: a Stripe ``invoice.paid`` webhook accepted -> its BC payment line, on the emulators.

Run with ``.venv/bin/python bench/e2e_payments.py`` (RabbitMQ on 127.0.0.1:5672). It starts a
``LocalStack`` (both emulators in this process with no added latency, the services as real
processes), then:

1. **Invoices**: bulk-posts ``--count`` USD invoices in BC and waits until the connector has
   pushed every one to Stripe (BC webhooks drive it). Stripe and BC API calls during the phase,
   divided by the count, are the calls per synced invoice.
2. **Payments**: pays every Stripe invoice by card (``--rate`` per second, 0 = at once) and waits
   until every payment record succeeded. Per payment, the latency is from the moment the
   stripe-gateway answered 2xx to the ``invoice.paid`` delivery to (a) the moment the reconciler
   recorded the BC payment line as created (``postings.posted_at``, written right after BC
   answered) and (b) the moment BC posted that line (``postedAt`` of the posted journal line,
   found by its external document number, the charge id upper-cased).

The Stripe emulator stamps delivery attempts in whole seconds only, so this script wraps its
dispatcher (in this process, nothing is edited) to note the wall-clock time each webhook answer
arrived. The BC emulator's clock is wall time (never advanced here) at millisecond precision,
and the reconciler runs on the same machine, so the three clocks compare directly. BC's
``apiRequests`` counter counts API v2.0 requests only (token requests are not included); Stripe's
request log counts every ``/v1`` API request. Control-surface calls made by this script count in
neither.
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pika
from flask import request
from sqlalchemy import create_engine
from sqlalchemy import text

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions
from mlconnector.bus import Topology
from mlconnector.db import UTCDateTime
from stripe_emulator.delivery import Dispatcher

GOAL_P99_S = 1.0
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def instrument_deliveries() -> None:
    """Note on every webhook attempt the wall-clock time the receiver's answer arrived."""
    original = Dispatcher._post

    def timed_post(self: Dispatcher, delivery: Any, header: str, record: dict[str, Any]) -> bool:
        ok = original(self, delivery, header, record)
        record["answered_at"] = time.time()
        return ok

    Dispatcher._post = timed_post  # type: ignore[method-assign]


class BcRoutes:
    """BC API requests by method and path shape, counted by a hook on the emulator's Flask app
    (registered before it starts; the emulator's own ``/stats`` has only the total)."""

    def __init__(self, stack: LocalStack) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        stack.bc.app.before_request(self._count)

    def _count(self) -> None:
        path = request.path
        if not path.startswith("/v2.0/"):
            return
        tail = path.split("/api/v2.0/", 1)[-1]
        shape = re.sub(r"\([^)]*\)", "({id})", tail)
        with self._lock:
            self.counts[f"{request.method} {shape}"] += 1

    def take(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.counts)
            self.counts.clear()
        return out


@dataclass
class Calls:
    stripe_total: int
    stripe_by_route: dict[str, int]
    bc_total: int
    bc_by_route: dict[str, int]


class CallCounter:
    """API calls made to both emulators since the last ``start``."""

    def __init__(self, stack: LocalStack, bc_routes: BcRoutes) -> None:
        self.stack = stack
        self.bc_routes = bc_routes
        self.bc_base = 0

    def _bc(self) -> int:
        return int(self.stack.bc_admin("GET", "/stats")["apiRequests"])

    def start(self) -> None:
        self.stack.stripe.clear_requests()
        self.bc_base = self._bc()
        self.bc_routes.take()

    def read(self) -> Calls:
        stripe = self.stack.stripe.request_count()
        return Calls(
            int(stripe["total"]),
            dict(stripe["by_route"]),
            self._bc() - self.bc_base,
            self.bc_routes.take(),
        )


def wait_until(what: str, done: Callable[[], bool], timeout: float) -> float:
    """Poll ``done`` every 0.2 s; the seconds it took, or ``TimeoutError``."""
    start = time.monotonic()
    while not done():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


def all_done(connector: Connector, kind: str, count: int) -> bool:
    records = connector.records(kind=kind)
    return len(records) >= count and all(r["state"] not in ("pending", "new") for r in records)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def sync_invoices(stack: LocalStack, connector: Connector, count: int, timeout: float) -> float:
    company = f"/companies/{stack.company_id}"
    stack.bc_admin(
        "POST",
        company + "/customers",
        {"number": "B10000", "displayName": "Bench Customer", "email": "ap@bench.example"},
    )
    stack.bc_admin(
        "POST",
        company + "/invoices/bulk",
        {
            "count": count,
            "customerNumber": "B10000",
            "currencyCode": "USD",
            "unitPrice": Decimal("125.50"),
            "quantity": 1,
            "post": True,
        },
    )
    return wait_until("invoices in Stripe", lambda: all_done(connector, "invoice", count), timeout)


def pay_all(stack: LocalStack, invoice_ids: list[str], rate: float) -> dict[str, str]:
    """Pay every invoice by card, paced; invoice id -> charge id."""
    charges: dict[str, str] = {}
    start = time.monotonic()
    for index, invoice_id in enumerate(invoice_ids):
        if rate > 0:
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        charges[invoice_id] = str(stack.stripe.pay_invoice(invoice_id)["charge"]["id"])
    return charges


def accepted_times(stack: LocalStack) -> dict[str, float]:
    """Stripe invoice id -> when the gateway's 2xx answer to its ``invoice.paid`` arrived."""
    events = stack.stripe.admin("GET", "objects/event")["data"]
    invoice_of = {e["id"]: e["data"]["object"]["id"] for e in events if e["type"] == "invoice.paid"}
    out: dict[str, float] = {}
    for delivery in stack.stripe.deliveries():
        invoice_id = invoice_of.get(delivery["event"])
        if invoice_id is None:
            continue
        answered = [
            a["answered_at"]
            for a in delivery["attempts"]
            if 200 <= a.get("response_status", 0) < 300 and "answered_at" in a
        ]
        if answered:
            out[invoice_id] = min(answered + [out.get(invoice_id, math.inf)])
    return out


def line_created_times(stack: LocalStack) -> dict[str, float]:
    """Charge id -> when the reconciler recorded its BC payment line (``postings.posted_at``)."""
    engine = create_engine(stack.env["MLC_DATABASE_URL"])
    query = text("SELECT stripe_id, posted_at FROM postings WHERE posted_at IS NOT NULL").columns(
        posted_at=UTCDateTime()
    )
    try:
        with engine.connect() as conn:
            return {str(row[0]): row[1].timestamp() for row in conn.execute(query)}
    finally:
        engine.dispose()


def line_posted_times(stack: LocalStack) -> dict[str, float]:
    """Upper-cased charge id -> when BC posted its payment line (``postedAt``)."""
    lines = stack.bc_admin("GET", f"/companies/{stack.company_id}/postedJournalLines")
    rows = lines["value"] if isinstance(lines, dict) else lines
    return {
        str(r["externalDocumentNumber"]): datetime.fromisoformat(r["postedAt"]).timestamp()
        for r in rows
        if r.get("externalDocumentNumber")
    }


def latency_line(label: str, values: list[float], expected: int) -> str:
    if not values:
        return f"  {label:<24} no samples"
    s = sorted(values)
    p = {pct: percentile(s, pct) * 1000 for pct in (50, 95, 99)}
    verdict = "meets" if p[99] / 1000 < GOAL_P99_S else "MISSES"
    return (
        f"  {label:<24} n={len(s)}/{expected}  p50 {p[50]:6.0f} ms  p95 {p[95]:6.0f} ms  "
        f"p99 {p[99]:6.0f} ms  max {s[-1] * 1000:6.0f} ms  min {s[0] * 1000:5.0f} ms  "
        f"({verdict} p99 < {GOAL_P99_S:.0f} s)"
    )


def calls_lines(label: str, calls: Calls, count: int) -> list[str]:
    out = [
        f"  {label}: Stripe {calls.stripe_total / count:.2f}, BC {calls.bc_total / count:.2f} "
        f"(totals {calls.stripe_total} / {calls.bc_total} over {count})"
    ]
    for system, routes in (("Stripe", calls.stripe_by_route), ("BC", calls.bc_by_route)):
        for route, n in sorted(routes.items(), key=lambda kv: -kv[1]):
            out.append(f"      {system:<6} {route:<52} {n / count:.2f}")
    return out


def run(args: argparse.Namespace) -> list[str]:
    instrument_deliveries()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        return _run(args, namespace)
    finally:
        # Each quorum queue left behind is a Raft cluster the broker keeps running.
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            Topology.isolated(namespace).delete(connection.channel())
        finally:
            connection.close()


def _run(args: argparse.Namespace, namespace: str) -> list[str]:
    count: int = args.count
    with tempfile.TemporaryDirectory(prefix="mlc-bench-e2e-") as tmp:
        options = StackOptions(
            workdir=Path(tmp),
            amqp_url=AMQP_URL,
            bus_namespace=namespace,
            log_level="WARNING",
            consumers=args.consumers,
            database_url=args.database_url,
            extra_env={"MLC_CONSUMER_WORKERS": str(args.workers)} if args.workers else {},
        )
        stack = LocalStack(options)
        counter = CallCounter(stack, BcRoutes(stack))
        with stack:
            connector = Connector(stack)

            counter.start()
            invoice_s = sync_invoices(stack, connector, count, args.timeout)
            invoice_calls = counter.read()
            invoices = connector.records(kind="invoice")
            stripe_ids = [str(r["stripe_ref"]) for r in invoices if r["state"] == "succeeded"]

            counter.start()
            start = time.monotonic()
            charges = pay_all(stack, stripe_ids, args.rate)
            pay_s = time.monotonic() - start
            settle_s = wait_until(
                "payments in BC", lambda: all_done(connector, "payment", len(charges)), args.timeout
            )
            payment_calls = counter.read()
            payments = connector.records(kind="payment")

            accepted = accepted_times(stack)
            created = line_created_times(stack)
            posted = line_posted_times(stack)

    to_created: list[float] = []
    to_posted: list[float] = []
    for invoice_id, charge_id in charges.items():
        if invoice_id not in accepted:
            continue
        if charge_id in created:
            to_created.append(created[charge_id] - accepted[invoice_id])
        if charge_id.upper() in posted:
            to_posted.append(posted[charge_id.upper()] - accepted[invoice_id])

    states: dict[str, int] = {}
    for record in invoices + payments:
        key = f"{record['kind']}:{record['state']}"
        states[key] = states.get(key, 0) + 1
    paced = f"{args.rate:g}/s" if args.rate > 0 else "all at once"
    return [
        f"e2e payments benchmark: {count} invoices, {len(charges)} card payments ({paced}), "
        f"{args.consumers} consumer process(es), emulators without added latency",
        f"  invoices synced to Stripe in {invoice_s:.1f} s; payments made in {pay_s:.1f} s, "
        f"all settled {settle_s:.1f} s after the last one",
        f"  record states: {', '.join(f'{k}={v}' for k, v in sorted(states.items()))}",
        f"  invoice.paid deliveries with a 2xx answer: {len(accepted)}",
        "latency from invoice.paid accepted (gateway 2xx) to:",
        latency_line("BC line created", to_created, len(charges)),
        latency_line("BC line posted", to_posted, len(charges)),
        "API calls (Stripe /v1 requests, BC API v2.0 requests; tokens not counted):",
        *calls_lines("per synced invoice", invoice_calls, count),
        *calls_lines("per payment", payment_calls, max(1, len(charges))),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="invoices and payments (200)")
    parser.add_argument(
        "--rate", type=float, default=20.0, help="card payments per second; 0 = at once (20)"
    )
    parser.add_argument("--consumers", type=int, default=1, help="consumer processes (1)")
    parser.add_argument(
        "--workers", type=int, default=0, help="handler threads per consumer (the service default)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="reconciler database (default: SQLite in the run's temp dir); e.g. an empty "
        "postgresql+psycopg:// database",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="per-phase wait, s (300)")
    args = parser.parse_args()
    for line in run(args):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
