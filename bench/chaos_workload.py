"""The outside world of a crash or chaos run: BC invoices, Stripe payments and refunds, webhooks.

Everything here goes through the emulators' control surfaces, as the firm and its clients would
act, plus read-only looks at the reconciler's database to know what it has done so far. Waits
poll and ride out errors (the database or the broker may be down on purpose at that moment).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pika.exceptions
from chaos_checks import database_rows
from sqlalchemy.exc import SQLAlchemyError

from mlc_local.stack import LocalStack

# What a look at a server may raise while that server is down on purpose.
TRANSIENT = (SQLAlchemyError, pika.exceptions.AMQPError, OSError, RuntimeError)


@dataclass(frozen=True)
class Charge:
    """A card payment made in Stripe: what its BC line must say."""

    id: str
    invoice: str
    amount_minor: int
    fee_minor: int


@dataclass(frozen=True)
class Refund:
    """A refund made in Stripe: its line goes to the refund batch."""

    id: str
    charge: str
    amount_minor: int


def wait_for(
    what: str,
    done: Callable[[], bool],
    timeout: float,
    *,
    progress: Callable[[], str] | None = None,
    every: float = 30.0,
    interval: float = 0.5,
) -> float:
    """Poll ``done`` every ``interval`` seconds (an exception counts as not yet); seconds taken,
    or ``TimeoutError``. ``progress`` is printed every ``every`` seconds while waiting."""
    began = time.monotonic()
    shown = began
    while True:
        try:
            if done():
                return time.monotonic() - began
        except TRANSIENT:
            pass  # a dependency is down on purpose; look again later
        now = time.monotonic()
        if now - began > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        if progress is not None and now - shown >= every:
            shown = now
            with contextlib.suppress(*TRANSIENT):
                print(f"    ... {what}: {progress()} ({now - began:.0f}s)", flush=True)
        time.sleep(interval)


def add_customers(stack: LocalStack, numbers: list[str]) -> None:
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/customers",
        [
            {"number": n, "displayName": f"Chaos {n}", "email": f"{n.lower()}@chaos.example"}
            for n in numbers
        ],
    )


def post_invoices(stack: LocalStack, customer: str, count: int, unit_price: Decimal) -> list[str]:
    """Post ``count`` one-line USD invoices for ``customer`` in BC; their BC ids."""
    created = stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/invoices/bulk",
        {
            "count": count,
            "customerNumber": customer,
            "currencyCode": "USD",
            "unitPrice": unit_price,
            "quantity": 1,
            "post": True,
        },
    )
    return [str(i) for i in created["ids"]]


def touch_invoices(stack: LocalStack, invoice_ids: list[str]) -> None:
    """Change each invoice in BC without changing its content: BC notifies ``updated``."""
    for invoice_id in invoice_ids:
        stack.bc_admin(
            "POST",
            f"/companies/{stack.company_id}/touch",
            {"entitySet": "salesInvoices", "id": invoice_id},
        )


def pushed_invoices(database_url: str) -> dict[str, str]:
    """BC invoice id -> Stripe invoice id, for every invoice the connector pushed."""
    rows = database_rows(
        database_url,
        "SELECT bc_ref, stripe_ref FROM sync_records "
        "WHERE kind = 'invoice' AND state = 'succeeded' AND stripe_ref IS NOT NULL",
    )
    return {str(bc).lower(): str(stripe) for bc, stripe in rows}


def record_states(database_url: str, kind: str) -> dict[str, str]:
    """Stripe id -> state of every record of ``kind`` (payment, refund, payout)."""
    rows = database_rows(
        database_url,
        "SELECT stripe_ref, state FROM sync_records WHERE kind = :kind AND stripe_ref IS NOT NULL",
        kind=kind,
    )
    return {str(ref): str(state) for ref, state in rows}


def pay(stack: LocalStack, stripe_invoice_ids: list[str]) -> list[Charge]:
    """Pay each Stripe invoice in full by card."""
    charges = []
    for invoice_id in stripe_invoice_ids:
        paid = stack.stripe.pay_invoice(invoice_id)
        charges.append(
            Charge(
                id=str(paid["charge"]["id"]),
                invoice=invoice_id,
                amount_minor=int(paid["charge"]["amount"]),
                fee_minor=int(paid["balance_transaction"]["fee"]),
            )
        )
    return charges


def refund(stack: LocalStack, charge: Charge, amount_minor: int) -> Refund:
    made: dict[str, Any] = stack.stripe.refund(charge.id, amount=amount_minor)
    refund_id = str(made.get("id") or made["refund"]["id"])
    return Refund(refund_id, charge.id, amount_minor)


class Deliveries:
    """Stripe's webhook deliveries to the stack: each event sent ``copies`` times in all.

    The emulator's own ``resend`` control (``POST /_emulator/events/<id>/resend``) queues one
    more delivery of an event, exactly as Stripe would send it again; with ``shuffle`` on, the
    dispatcher sends whatever is due in a random (seeded) order.
    """

    def __init__(self, stack: LocalStack, copies: int) -> None:
        self.stack = stack
        self.copies = copies
        self.multiplied: set[str] = set()

    def hold(self) -> None:
        """Keep new deliveries queued (sent only once released)."""
        self.stack.stripe.configure(paused=True)

    def release(self) -> int:
        """Add the extra copies of every new event, then let all of them go; copies added."""
        events = {d["event"] for d in self.stack.stripe.deliveries()} - self.multiplied
        added = 0
        for event in sorted(events):
            for _ in range(self.copies - 1):
                self.stack.stripe.admin("POST", f"events/{event}/resend")
                added += 1
            self.multiplied.add(event)
        self.stack.stripe.configure(paused=False)
        return added

    def statuses(self) -> Counter[str]:
        return Counter(str(d["status"]) for d in self.stack.stripe.deliveries())
