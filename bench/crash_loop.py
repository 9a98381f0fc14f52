"""Crash loop: consumers SIGKILLed at each kill point, over and over, with payments waiting.

Run with ``.venv/bin/python bench/crash_loop.py`` (RabbitMQ on 127.0.0.1:5672; a private
PostgreSQL cluster is started in a temporary directory). The figure it checks, from the issue:
"100 consecutive crashes at each kill point with 100 payments waiting: 100 BC lines, 0 lost,
0 duplicated, 0 stuck, 0 dead-lettered" (reliability.md §7 item 4).

1. A ``LocalStack`` (emulators in this process, services as processes) pushes ``--payments``
   USD invoices from BC to Stripe with its consumer running.
2. The consumer is stopped and every invoice is paid by card, so two messages per payment
   (``invoice.paid`` and ``charge.succeeded``) wait in the queue.
3. For each kill point in turn (after_claim, after_bc_write, before_commit, after_commit) a
   consumer armed with it is started and restarted the moment it dies, ``--kills`` times, with
   no back-off, like a crash-looping pod. A life in which nothing reaches the point within
   ``--life-timeout`` is ended and counted as "not reached"; when nothing waits any more the
   point's remaining lives are skipped.
4. A normal consumer drains until every payment record is settled, or ``--drain-timeout``.

The claim lease is short (``MLC_CLAIM_LEASE=8``, ``MLC_GATEWAY_TIMEOUT=4``, as the crash e2e
tests use) so the leases of killed consumers free up. BC lines are read from the BC emulator by
external document number (the charge id, upper-cased), posted or still in the batch. The exit
code is 1 when the lines are not exactly one per payment, or anything that must be zero is not.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pika
from chaos_checks import Row
from chaos_checks import bc_lines
from chaos_checks import database_figures
from chaos_checks import line_figures
from chaos_checks import queue_figures
from chaos_checks import sample
from chaos_checks import table
from chaos_checks import topology_of
from chaos_consumers import LoopResult
from chaos_consumers import consumer
from chaos_consumers import crash_loop
from chaos_workload import Charge
from chaos_workload import add_customers
from chaos_workload import pay
from chaos_workload import post_invoices
from chaos_workload import pushed_invoices
from chaos_workload import record_states
from chaos_workload import wait_for

from mlc_local.private_postgres import PrivatePostgres
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions
from mlconnector.bus import Topology

KILL_POINTS = ("after_claim", "after_bc_write", "before_commit", "after_commit")
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
STACK_ENV = {
    "MLC_MAX_RETRIES": "8",
    "MLC_BC_MAX_ATTEMPTS": "2",
    "MLC_BC_RETRY_BUDGET": "2",
    "MLC_GATEWAY_TIMEOUT": "4",
    "MLC_CLAIM_LEASE": "8",
}


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[str], bool]:
    """The whole run; the report lines and whether every checked figure held."""
    began = time.monotonic()
    namespace = f"crash-{uuid.uuid4().hex[:8]}"
    pg: PrivatePostgres | None = None
    try:
        database_url = args.database_url
        if database_url is None:
            pg = PrivatePostgres(workdir / "pg").start()
            database_url = pg.create_database("mlc")
        options = StackOptions(
            workdir=workdir / "stack",
            amqp_url=args.amqp_url,
            database_url=database_url,
            bus_namespace=namespace,
            log_level=args.log_level,
            extra_env=STACK_ENV,
        )
        with LocalStack(options) as stack:
            return _run(args, stack, database_url, began)
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(args.amqp_url))
        try:  # each quorum queue left behind is a Raft cluster the shared broker keeps running
            Topology.isolated(namespace).delete(connection.channel())
        finally:
            connection.close()
        if pg is not None:
            pg.close()


def _run(
    args: argparse.Namespace, stack: LocalStack, database_url: str, began: float
) -> tuple[list[str], bool]:
    rng = random.Random(args.seed)
    topology = topology_of(stack)
    count = args.payments
    print(f"pushing {count} invoices from BC to Stripe ...", flush=True)
    add_customers(stack, ["K10000"])
    invoice_ids: list[str] = []
    for chunk in range(0, count, 10):
        # Ten invoices per price, the prices drawn from the seed: amounts differ between lines.
        price = Decimal(rng.randrange(1000, 500000)) / 100
        invoice_ids += post_invoices(stack, "K10000", min(10, count - chunk), price)
    wanted = {i.lower() for i in invoice_ids}
    wait_for(
        "invoices in Stripe",
        lambda: wanted <= set(pushed_invoices(database_url)),
        args.drain_timeout,
        progress=lambda: f"{len(wanted & set(pushed_invoices(database_url)))}/{count}",
    )
    stripe_ids = [pushed_invoices(database_url)[i] for i in sorted(wanted)]

    stack.processes.pop("consumer-1").stop()
    print(f"consumer stopped; paying {count} invoices ...", flush=True)
    charges = pay(stack, stripe_ids)
    wait_for(
        "payment webhooks accepted",
        lambda: queue_figures(args.amqp_url, topology).work >= 2 * count,
        120,
    )
    waiting_at_start = queue_figures(args.amqp_url, topology).work

    loops: list[LoopResult] = []
    for point in args.points:
        print(f"crash loop at {point}: up to {args.kills} lives ...", flush=True)
        result = crash_loop(
            stack,
            point,
            args.kills,
            life_timeout=args.life_timeout,
            waiting=lambda: queue_figures(args.amqp_url, topology).waiting,
        )
        print(
            f"    {result.kills} kills, {result.not_reached} not reached, "
            f"{result.skipped} skipped, other exits {dict(result.other_exits)} "
            f"in {result.seconds:.0f}s",
            flush=True,
        )
        loops.append(result)

    print("draining with a normal consumer ...", flush=True)
    stack.processes["consumer-1"] = consumer(stack, "consumer-1")
    drain_began = time.monotonic()
    charge_ids = {c.id for c in charges}

    def drained() -> bool:
        settled = _payments_settled(database_url, charge_ids)
        return settled and queue_figures(args.amqp_url, topology).waiting == 0

    try:
        wait_for(
            "every payment settled and the queues empty",
            drained,
            args.drain_timeout,
            progress=lambda: str(database_figures(database_url).records),
        )
    except TimeoutError as exc:
        print(f"    {exc}", flush=True)
    drain_s = time.monotonic() - drain_began
    # Lines wait in the batch for a moment after their record succeeded; let the posting finish.
    time.sleep(2)
    return _report(args, stack, database_url, charges, loops, waiting_at_start, drain_s, began)


def _payments_settled(database_url: str, charge_ids: set[str]) -> bool:
    states = record_states(database_url, "payment")
    return charge_ids <= set(states) and all(states[c] != "pending" for c in charge_ids)


def _report(
    args: argparse.Namespace,
    stack: LocalStack,
    database_url: str,
    charges: list[Charge],
    loops: list[LoopResult],
    waiting_at_start: int,
    drain_s: float,
    began: float,
) -> tuple[list[str], bool]:
    expected = {c.id: -Decimal(c.amount_minor) / 100 for c in charges}
    figures = line_figures(bc_lines(stack), dict(expected))
    database = database_figures(database_url)
    queues = queue_figures(args.amqp_url, topology_of(stack))
    rows = [
        Row("payments made", len(charges), args.payments, checked=True),
        Row("messages waiting before the first kill", waiting_at_start),
        Row(
            "BC lines (posted + in batch)",
            figures.posted + figures.unposted,
            figures.expected,
            checked=True,
        ),
        Row("  posted", figures.posted),
        Row("  still in the batch", figures.unposted),
        Row("lost (payments without a line)", len(figures.lost), checked=True),
        Row("duplicated (extra lines)", figures.duplicated, checked=True),
        Row("lines with a wrong amount", len(figures.wrong_amount), checked=True),
        Row("unexpected lines", len(figures.unexpected), checked=True),
    ]
    for key in sorted(database.records):
        if key.startswith("payment:"):
            rows.append(Row(f"records {key}", database.records[key]))
    rows += [
        Row("stuck (payment records pending)", database.count("payment", "pending"), checked=True),
        Row("dead-letter queue depth", queues.dead, checked=True),
        Row("messages left in work/retry queues", queues.waiting),
        Row("inbox rows (processed/all)", f"{database.inbox_processed}/{database.inbox_total}"),
    ]
    for table_name, n in sorted(database.dead_letter_rows.items()):
        rows.append(Row(f"dead-letter rows ({table_name})", n, checked=True))
    for loop in loops:
        rows.append(Row(f"kills at {loop.point}", loop.kills, args.kills))
        detail = f"{loop.not_reached}/{loop.skipped}/{sum(loop.other_exits.values())}"
        rows.append(Row("  not reached/skipped/other exits", detail))
    rows += [
        Row("drain (s)", f"{drain_s:.0f}"),
        Row("wall time (s)", f"{time.monotonic() - began:.0f}"),
    ]
    lines = [
        "",
        *table(
            f"crash loop: {args.payments} payments waiting, {args.kills} lives per kill point, "
            f"lease {STACK_ENV['MLC_CLAIM_LEASE']} s",
            rows,
        ),
    ]
    for label, items in (
        ("lost", figures.lost),
        ("duplicated", figures.duplicated_numbers),
        ("wrong amount", figures.wrong_amount),
        ("unexpected", figures.unexpected),
    ):
        if items:
            lines.append(f"  {label}: {sample(items)}")
    return lines, not any(row.failed for row in rows)


def _points(raw: str) -> list[str]:
    points = [p.strip() for p in raw.split(",") if p.strip()]
    unknown = [p for p in points if p not in KILL_POINTS]
    if not points or unknown:
        raise argparse.ArgumentTypeError(f"expected kill points from {', '.join(KILL_POINTS)}")
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100, help="payments waiting (100)")
    parser.add_argument("--kills", type=int, default=100, help="lives per kill point (100)")
    parser.add_argument(
        "--points",
        type=_points,
        default=list(KILL_POINTS),
        help="kill points, comma-separated, in order (all four)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the invoice amounts (1)")
    parser.add_argument(
        "--life-timeout",
        type=float,
        default=40.0,
        help="seconds an armed consumer may live without reaching its point (40)",
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds (300)")
    parser.add_argument("--amqp-url", default=AMQP_URL, help="broker (the shared one on 5672)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="reconciler database (default: a private PostgreSQL cluster in a temp dir)",
    )
    parser.add_argument("--log-level", default="INFO", help="services' log level (INFO)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlc-crash-loop-"))
    try:
        lines, ok = run(args, workdir)
        for line in lines:
            print(line)
    finally:
        if args.keep:
            print(f"  logs: {workdir / 'stack' / 'log'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
