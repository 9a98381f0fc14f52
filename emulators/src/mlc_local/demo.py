"""``python -m mlc_local.demo``: the connector's whole job on one machine, with a summary.

Starts both emulators and the three services (see ``LocalStack``), then plays a business day:
customers and posted invoices in BC (USD, EUR, JPY, KWD), which the connector pushes to Stripe;
card payments in Stripe (one partial), a credit memo and a bank transfer in BC on the invoice
left unpaid, a partial refund, a payout per currency; and prints what moved.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from mlc_local.scenario import INVOICES
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions
from mlc_local.summary import print_summary


class Progress:
    """One line per step, with elapsed time; a ticking counter while a step waits."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.step = 0
        self.started = time.monotonic()
        self._tty = sys.stdout.isatty()

    def begin(self, text: str) -> None:
        self.step += 1
        self._text = f"[{self.step}/{self.total}] {text}"
        self._step_started = time.monotonic()
        print(
            self._text + (" ..." if not self._tty else ""),
            end="" if self._tty else "\n",
            flush=True,
        )

    def tick(self, _what: str) -> None:
        if self._tty:
            print(
                f"\r{self._text} ... {time.monotonic() - self._step_started:4.1f}s",
                end="",
                flush=True,
            )

    def done(self, note: str = "") -> None:
        took = time.monotonic() - self._step_started
        line = f"{self._text} done in {took:.1f}s" + (f" ({note})" if note else "")
        print(("\r" + line) if self._tty else "    " + line, flush=True)


def run(stack: LocalStack, progress: Progress) -> dict[str, Any]:
    connector = Connector(stack)
    progress.begin("Creating customers and posting invoices in Business Central")
    connector.create_customers()
    posted = [connector.post_invoice(body) for body in INVOICES]
    progress.done(f"{len(posted)} invoices")

    progress.begin("Waiting for BC webhooks to push the invoices to Stripe")
    connector.wait_for(
        "invoices",
        lambda: connector.settled("invoice", len(posted)),
        timeout=90,
        progress=progress.tick,
    )
    progress.done()

    invoices = {r["bc_ref"]: r for r in connector.records(kind="invoice")}
    stripe_ids = [invoices[str(p["id"])]["stripe_ref"] for p in posted]
    progress.begin("Clients pay by card in Stripe (one partly, one not yet)")
    charges = [
        connector.pay(stripe_ids[0])["charge"]["id"],
        connector.pay(stripe_ids[2])["charge"]["id"],
        connector.pay(stripe_ids[3])["charge"]["id"],
        connector.pay(stripe_ids[4], amount=600000)["charge"]["id"],
    ]
    connector.wait_for(
        "payments",
        lambda: connector.settled("payment", len(charges)),
        timeout=90,
        progress=progress.tick,
    )
    progress.done(f"{len(charges)} payments")

    progress.begin("The firm credits 450.00 USD on the unpaid invoice in BC (a credit memo)")
    unpaid = posted[1]
    connector.credit_memo(unpaid, "450.00", "Goodwill discount")
    connector.wait_for(
        "credit memo",
        lambda: connector.settled("credit_memo", 1),
        timeout=60,
        progress=progress.tick,
    )
    progress.done("Stripe credit note: the client now owes 2,000.00")

    progress.begin("The client pays the rest by bank transfer, applied in BC")
    connector.pay_in_bc(unpaid, Decimal("2000.00"), "BT-7781")
    connector.poll_bc()
    connector.wait_for(
        "paid elsewhere",
        lambda: any(
            (r.get("flags") or {}).get("paid_elsewhere")
            for r in connector.records(kind="invoice", bc_ref=str(unpaid["id"]))
        ),
        timeout=60,
        progress=progress.tick,
    )
    progress.done("Stripe invoice marked paid out of band: no second payment possible")

    progress.begin("Refunding 100.00 USD of the first payment")
    connector.refund(charges[0], amount=10000)
    connector.wait_for(
        "refund", lambda: connector.settled("refund", 1), timeout=60, progress=progress.tick
    )
    progress.done()

    progress.begin("Stripe pays out the balance")
    payouts = connector.payout()
    connector.wait_for(
        "payouts",
        lambda: connector.settled("payout", len(payouts)),
        timeout=90,
        progress=progress.tick,
    )
    progress.done(f"{len(payouts)} payout(s)")
    return {"connector": connector, "payouts": payouts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlc-demo", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--keep-running", action="store_true", help="stay up until Ctrl-C")
    args = parser.parse_args(argv)
    progress = Progress(total=8)
    options = StackOptions(
        workdir=args.workdir.resolve() / time.strftime("%Y%m%d-%H%M%S"),
        amqp_url=args.amqp_url,
        bus_namespace="demo-" + time.strftime("%H%M%S"),
        ports={"bc-gateway": 8081, "stripe-gateway": 8082, "reconciler": 8083},
    )
    progress.begin("Starting the BC and Stripe emulators and the three services")
    with LocalStack(options) as stack:
        progress.done(f"logs in {options.workdir / 'log'}")
        result = run(stack, progress)
        print_summary(stack, result["connector"], time.monotonic() - progress.started)
        if args.keep_running:
            print("\nStill running; Ctrl-C stops everything.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
