"""Chaos: invoices, payments and refunds through every fault at once; nothing lost or doubled.

Run with ``.venv/bin/python bench/chaos.py`` (``--quick`` for a small smoke run). The issue's
figure: "N invoices, payments and refunds (default 1,000 / 1,000 / 200) with every webhook
delivered three times and shuffled, while the consumer is SIGKILLed at random moments and at
each kill point (including crash loops), the broker is restarted, PostgreSQL is made
unavailable for a while, and both emulators inject 10 % 429/5xx. All of lost, duplicated, stuck
and drift must be zero."

Everything runs on servers of its own, so the machine's shared ones are untouched: a private
RabbitMQ node (``mlc_local.private_rabbitmq``) and a private PostgreSQL cluster
(``mlc_local.private_postgres``), both in a temporary directory, and a ``LocalStack`` (both
emulators in this process, the services as processes) wired to them, its processes kept alive
by a supervisor as Kubernetes would.

1. **Traffic** (``chaos_traffic``), planned from the seed and played in ``--waves`` waves spread
   over the fault plan: each wave posts its share of the ``--invoices`` USD invoices in BC (BC
   announces each one ``--copies`` times: created, then touched), pays by card every invoice
   the connector has pushed to Stripe since the last wave, and refunds the planned charges
   paid before (``--refunds`` in all, a quarter in full, the rest in part). Each Stripe event
   is delivered ``--copies`` times in all (the emulator's ``resend``), the copies of a wave
   shuffled together (the emulator's ``shuffle``).
2. **Faults**, meanwhile: the seeded plan of ``chaos_schedule`` (crash loops at every kill
   point, random consumer SIGKILLs, broker restarts, a PostgreSQL outage), and both emulators
   answering ``--fault-rate`` of API requests with 429 (``Retry-After``) or 503.
3. The last invoices are paid and refunded once the connector has pushed them.
4. **Drain**: faults stop, every process is up, and the run waits until every webhook was
   delivered, every payment and refund record is settled and the queues are empty.
5. **Payout** of the whole USD balance; then the Stripe clearing account (G/L 10900) must hold
   exactly the refunds still waiting for review: payments in, fees and the transfer out net to
   zero.

What the connector books today bounds the workload. It is USD only, BC's local currency: payouts
in other currencies are left to a person (unmatched on purpose), so foreign-currency money would
unbalance the clearing account by design, not by a fault. Refund lines wait in their own batch
for review and are not posted (BC refuses a positive line in a cash receipt journal, so
``MLC_AUTO_POST_REFUNDS`` cannot help yet): their amounts are the clearing account's expected
balance. The exit code is 1 when lost, duplicated, unexpected or wrong-amount lines, stuck
records, clearing-account drift or secrets in the logs are not zero.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from chaos_checks import queue_figures
from chaos_checks import topology_of
from chaos_consumers import Supervisor
from chaos_report import Outcome
from chaos_report import report
from chaos_schedule import Chaos
from chaos_schedule import expected_duration
from chaos_schedule import plan
from chaos_traffic import Traffic
from chaos_traffic import make_plan
from chaos_workload import Deliveries
from chaos_workload import record_states
from chaos_workload import wait_for

from mlc_local.private_postgres import PrivatePostgres
from mlc_local.private_rabbitmq import PrivateRabbitMQ
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions

STACK_ENV = {
    # A killed consumer's lease blocks its posting this long; longer than the gateway timeout.
    "MLC_CLAIM_LEASE": "15",
    "MLC_GATEWAY_TIMEOUT": "6",
}
# Webhook retries long enough to outlast a broker restart: Stripe's schedule shrunk to about
# 5 minutes (emulated seconds x time_scale 0.001), BC's to about 2.
STRIPE_RETRY_DELAYS = [1000.0, 2000.0, 4000.0, 8000.0, 15000.0, 30000.0, 60000.0, 60000.0, 60000.0]
BC_RETRY_DELAYS = [1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0]
QUICK = {
    "invoices": 40,
    "refunds": 8,
    "kills": 2,
    "random_kills": 3,
    "broker_restarts": 2,
    "pg_outage": 20.0,
}


def stack_options(args: argparse.Namespace, workdir: Path, amqp_url: str, db: str) -> StackOptions:
    """The stack on the private servers, with shuffled, patient webhooks from both emulators."""
    return StackOptions(
        workdir=workdir,
        amqp_url=amqp_url,
        database_url=db,
        log_level=args.log_level,
        extra_env=STACK_ENV,
        bc_config={"retry_delays_seconds": BC_RETRY_DELAYS, "max_retry_attempt": 7},
        stripe_config={
            "seed": args.seed,
            "shuffle": True,
            "shuffle_window": 0.5,
            "retry_delays": STRIPE_RETRY_DELAYS,
            "time_scale": 0.001,
        },
    )


def inject_faults(stack: LocalStack, rate: float, seed: int) -> None:
    """Half of ``rate`` as 429 with Retry-After, half as 503, on both emulators' APIs."""
    half = rate / 2
    shares = (half, half / (1 - half))  # the second rule sees only what the first one spared
    for n, status in enumerate((429, 503)):
        stack.bc_admin(
            "POST",
            "/faults",
            {"status": status, "count": None, "retryAfter": 1, "rate": shares[n], "seed": seed + n},
        )
    limited = {"Retry-After": "1", "Stripe-Rate-Limited-Reason": "global-rate"}
    common = {"count": None, "path": "/v1/"}
    stack.stripe.inject_fault(
        kind="rate_limit", headers=limited, rate=shares[0], seed=seed, **common
    )
    stack.stripe.inject_fault(
        status=503, should_retry=True, rate=shares[1], seed=seed + 1, **common
    )


def clear_faults(stack: LocalStack) -> None:
    stack.bc_admin("DELETE", "/faults")
    stack.stripe.clear_faults()


def run(args: argparse.Namespace, workdir: Path) -> tuple[list[str], bool]:
    """The whole run on private servers in ``workdir``; the report and whether it passed."""
    began = time.monotonic()
    with (
        PrivateRabbitMQ(workdir / "rabbit") as broker,
        PrivatePostgres(workdir / "pg") as pg,
    ):
        database_url = pg.create_database("mlc")
        print(f"private broker {broker.node} on :{broker.amqp_port}, PostgreSQL on :{pg.port}")
        options = stack_options(args, workdir / "stack", broker.url, database_url)
        with LocalStack(options) as stack:
            supervisor = Supervisor(stack, ["consumer-1"]).start()
            try:
                outcome = drive(args, stack, broker, pg, database_url, supervisor)
            finally:
                supervisor.close()
            outcome.restarts = supervisor.restarts
            outcome.wall_s = time.monotonic() - began
            return report(args, stack, broker, outcome)


def drive(
    args: argparse.Namespace,
    stack: LocalStack,
    broker: PrivateRabbitMQ,
    pg: PrivatePostgres,
    database_url: str,
    supervisor: Supervisor,
) -> Outcome:
    """Traffic under the fault plan, then the drain, the payout and a last drain."""
    outcome = Outcome(database_url=database_url)
    deliveries = Deliveries(stack, args.copies)
    actions = plan(
        random.Random(args.seed + 1),
        random_kills=args.random_kills,
        broker_restarts=args.broker_restarts,
        pg_outage_s=args.pg_outage,
    )
    chaos = Chaos(
        actions,
        stack=stack,
        broker=broker,
        pg=pg,
        supervisor=supervisor,
        kills_per_point=args.kills,
        life_timeout=args.life_timeout,
    )
    outcome.chaos = chaos
    traffic = Traffic(
        stack,
        database_url,
        deliveries,
        make_plan(random.Random(args.seed), args.invoices, args.refunds),
        copies=args.copies,
        waves=args.waves,
        span_s=expected_duration(actions, args.kills),
        phase_timeout=args.phase_timeout,
    )
    inject_faults(stack, args.fault_rate, args.seed)
    print(f"traffic in waves over about {traffic.span_s:.0f}s of faults", flush=True)
    chaos.start()
    started = time.monotonic()
    try:
        traffic.run()
    except BaseException:
        chaos.stop()  # never leave a fault half-done (a node down, an armed consumer running)
        raise
    finally:
        outcome.bc_invoices = traffic.bc_ids
        outcome.pushed = traffic.pushed
        outcome.charges = [traffic.charges[i] for i in sorted(traffic.charges)]
        outcome.refunds = traffic.refunds
        outcome.workload_s = time.monotonic() - started
    print("waiting for the fault plan to finish ...", flush=True)
    chaos.join()

    print("faults stop; draining ...", flush=True)
    clear_faults(stack)
    supervisor.ensure_running()
    drain_began = time.monotonic()
    drain(args, stack, broker, database_url, deliveries, outcome)
    print("paying out the USD balance ...", flush=True)
    deliveries.hold()
    outcome.payouts = stack.stripe.payout("usd")
    deliveries.release()
    drain(args, stack, broker, database_url, deliveries, outcome)
    outcome.drain_s = time.monotonic() - drain_began
    outcome.deliveries = deliveries.statuses()
    outcome.events = len(deliveries.multiplied)
    return outcome


def drain(
    args: argparse.Namespace,
    stack: LocalStack,
    broker: PrivateRabbitMQ,
    database_url: str,
    deliveries: Deliveries,
    outcome: Outcome,
) -> None:
    """Wait until webhooks are delivered, records settled and queues empty (or time is up)."""
    topology = topology_of(stack)
    wanted = {
        "payment": {c.id for c in outcome.charges},
        "refund": {r.id for r in outcome.refunds},
        "payout": {str(p["id"]) for p in outcome.payouts},
    }

    def unsettled() -> dict[str, Any]:
        left: dict[str, Any] = {"deliveries": deliveries.statuses().get("pending", 0)}
        for kind, ids in wanted.items():
            states = record_states(database_url, kind)
            left[kind] = sum(1 for i in ids if states.get(i, "pending") == "pending")
        left["queued"] = queue_figures(broker.url, topology).waiting
        return left

    try:
        wait_for(
            "the drain",
            lambda: not any(unsettled().values()),
            args.drain_timeout,
            progress=lambda: str(unsettled()),
            interval=2.0,  # each look lists every delivery: keep the emulators' process free
        )
    except TimeoutError as exc:
        print(f"    {exc}: {unsettled()}", flush=True)
    time.sleep(2)  # a succeeded payment's batch is posted right after its record settles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000, help="invoices, each paid (1000)")
    parser.add_argument("--refunds", type=int, default=200, help="charges refunded (200)")
    parser.add_argument("--kills", type=int, default=5, help="lives per kill point's loop (5)")
    parser.add_argument("--random-kills", type=int, default=10, help="consumer SIGKILLs (10)")
    parser.add_argument("--broker-restarts", type=int, default=3, help="(3)")
    parser.add_argument("--pg-outage", type=float, default=30.0, help="seconds down (30)")
    parser.add_argument("--fault-rate", type=float, default=0.10, help="429/503 share (0.10)")
    parser.add_argument("--copies", type=int, default=3, help="deliveries per webhook (3)")
    parser.add_argument("--waves", type=int, default=10, help="traffic waves over the faults (10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of everything random (1)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--life-timeout", type=float, default=20.0, help="s per armed life (20)")
    parser.add_argument("--phase-timeout", type=float, default=600.0, help="s (600)")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="s (300)")
    parser.add_argument("--log-level", default="DEBUG", help="services' log level (DEBUG)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    if parser.parse_args().quick:
        parser.set_defaults(**QUICK)  # small sizes, still overridden by explicit options
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlc-chaos-"))
    try:
        lines, ok = run(args, workdir)
        for line in lines:
            print(line)
    finally:
        if args.keep:
            print(f"  work directory and logs: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
