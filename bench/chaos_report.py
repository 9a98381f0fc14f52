"""The chaos run's one table: the workload, the faults, and what BC, the database and logs show."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from chaos_checks import SECRET_PATTERNS
from chaos_checks import Row
from chaos_checks import bc_lines
from chaos_checks import database_figures
from chaos_checks import line_figures
from chaos_checks import queue_figures
from chaos_checks import sample
from chaos_checks import scan_logs
from chaos_checks import secret_values
from chaos_checks import table
from chaos_checks import topology_of
from chaos_schedule import Chaos
from chaos_workload import Charge
from chaos_workload import Refund

from mlc_local.private_rabbitmq import PrivateRabbitMQ
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.money import from_minor

CLEARING_ACCOUNT = "10900"


@dataclass
class Outcome:
    """What the run did, filled in as it goes."""

    database_url: str
    chaos: Chaos | None = None
    bc_invoices: list[str] = field(default_factory=list)
    pushed: dict[str, str] = field(default_factory=dict)
    charges: list[Charge] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0  # distinct Stripe events delivered to the stack
    deliveries: Counter[str] = field(default_factory=Counter)
    restarts: Counter[str] = field(default_factory=Counter)
    workload_s: float = 0.0
    drain_s: float = 0.0
    wall_s: float = 0.0


def expected_lines(outcome: Outcome) -> dict[str, Decimal | None]:
    """External document number -> amount of every BC line the run must have produced."""
    out: dict[str, Decimal | None] = {}
    for charge in outcome.charges:
        out[charge.id] = -from_minor(charge.amount_minor, "usd")
    for made in outcome.refunds:
        out[made.id] = from_minor(made.amount_minor, "usd")
    fees = sum(c.fee_minor for c in outcome.charges)
    for payout in outcome.payouts:
        net = int(payout["amount"])
        if fees:
            out[f"{payout['id']}-F"] = from_minor(fees, "usd")
            out[f"{payout['id']}-FC"] = -from_minor(fees, "usd")
        out[f"{payout['id']}-N"] = from_minor(net, "usd")
        out[f"{payout['id']}-NC"] = -from_minor(net, "usd")
    return out


def _fault_answers(stack: LocalStack) -> int:
    return sum(1 for e in stack.stripe.requests() if e.get("status") in (429, 503))


def report(
    args: argparse.Namespace, stack: LocalStack, broker: PrivateRabbitMQ, outcome: Outcome
) -> tuple[list[str], bool]:
    found = bc_lines(stack)
    lines = line_figures(found, expected_lines(outcome))
    # Refund lines wait in their batch for a person (BC refuses to post positive lines in a
    # cash receipt journal), so their money is still on the clearing account by design.
    in_review = sum(
        (
            from_minor(r.amount_minor, "usd")
            for r in outcome.refunds
            if any(not line.posted for line in found.get(r.id.upper(), []))
        ),
        Decimal("0.00"),
    )
    database = database_figures(outcome.database_url)
    queues = queue_figures(broker.url, topology_of(stack))
    clearing = Connector(stack).clearing_balance(CLEARING_ACCOUNT)
    values = secret_values(stack)
    secrets = scan_logs([stack.workdir / "log"], values)
    chaos = outcome.chaos
    charged = {c.id: c.amount_minor for c in outcome.charges}
    full = sum(1 for r in outcome.refunds if charged.get(r.charge) == r.amount_minor)
    rows = [
        Row("invoices posted in BC", len(outcome.bc_invoices)),
        Row("invoices pushed to Stripe", len(outcome.pushed), len(outcome.bc_invoices)),
        Row("card payments", len(outcome.charges)),
        Row("refunds (in full / in part)", f"{full} / {len(outcome.refunds) - full}"),
        Row("payouts", len(outcome.payouts)),
        Row(
            "Stripe webhook deliveries (events x copies)",
            sum(outcome.deliveries.values()),
            outcome.events * args.copies,
        ),
        Row(
            "  delivered / given up by Stripe",
            f"{outcome.deliveries.get('succeeded', 0)} / {outcome.deliveries.get('failed', 0)}",
        ),
        Row("Stripe API answers 429/503", _fault_answers(stack)),
        Row("BC API answers 429/503", stack.bc_admin("GET", "/stats")["faultsInjected"]),
    ]
    if chaos is not None:
        rows.append(Row("consumer SIGKILLs at random", chaos.done["random_kill"]))
        for loop in chaos.loops:
            rows.append(
                Row(
                    f"crash loop {loop.point}: kills/not reached/other/skipped",
                    f"{loop.kills}/{loop.not_reached}/{sum(loop.other_exits.values())}"
                    f"/{loop.skipped}",
                    f"{args.kills} lives",
                )
            )
        rows.append(
            Row(
                "broker restarts (longest down, s)",
                f"{chaos.done['broker_restart']} ({max(chaos.broker_down_s, default=0):.0f})",
                args.broker_restarts,
            )
        )
        rows.append(
            Row("PostgreSQL down (s)", f"{sum(chaos.pg_down_s):.0f}", f"{args.pg_outage:.0f}")
        )
    restarts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.restarts.items())) or "none"
    rows.append(Row("process restarts by the supervisor", restarts))
    rows += [
        Row("BC lines (posted + in batch)", lines.posted + lines.unposted, lines.expected),
        Row("  posted", lines.posted),
        Row("  still in a batch", lines.unposted),
        Row("lost lines", len(lines.lost), checked=True),
        Row("duplicated lines", lines.duplicated, checked=True),
        Row("unexpected lines", len(lines.unexpected), checked=True),
        Row("lines with a wrong amount", len(lines.wrong_amount), checked=True),
    ]
    rows += [Row(f"records {key}", n) for key, n in sorted(database.records.items())]
    rows += [
        Row("stuck (records pending)", database.pending(), checked=True),
        Row("dead-letter queue depth", queues.dead),
        *(Row(f"dead-letter rows ({t})", n) for t, n in sorted(database.dead_letter_rows.items())),
        Row("messages left in work/retry queues", queues.waiting),
        Row("inbox rows (processed/all)", f"{database.inbox_processed}/{database.inbox_total}"),
        Row(f"clearing account {CLEARING_ACCOUNT} balance (USD)", clearing, in_review),
        Row("drift (balance - expected)", clearing - in_review, checked=True),
        Row("secrets found in logs", sum(secrets.values()), checked=True),
        Row("  looked for: patterns + generated values", f"{len(SECRET_PATTERNS)} + {len(values)}"),
        Row(
            "workload / drain / wall time (s)",
            f"{outcome.workload_s:.0f} / {outcome.drain_s:.0f} / {outcome.wall_s:.0f}",
        ),
    ]
    title = (
        f"chaos: {args.invoices} invoices, {len(outcome.charges)} payments, "
        f"{len(outcome.refunds)} refunds, each webhook x{args.copies} shuffled, "
        f"{args.fault_rate:.0%} 429/503, seed {args.seed}"
    )
    notes = [
        "  USD only, BC's local currency: the connector leaves payouts in other currencies to a",
        "  person today. Refund lines wait in batch STRIPEREF for review (BC does not post a",
        "  positive cash-receipt line), so the clearing account is expected to hold exactly",
        "  the refunds waiting there after the payout; drift is the difference.",
    ]
    out = ["", *table(title, rows), *notes]
    for label, items in (
        ("lost", lines.lost),
        ("duplicated", lines.duplicated_numbers),
        ("unexpected", lines.unexpected),
        ("wrong amount", lines.wrong_amount),
        ("secrets", [f"{k} x{v}" for k, v in sorted(secrets.items())]),
        ("chaos actions that failed", chaos.errors if chaos else []),
    ):
        if items:
            out.append(f"  {label}: {sample(items)}")
    return out, not any(r.failed for r in rows)
