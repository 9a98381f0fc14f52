"""``python -m mlc_local.demo``: the connector's whole job on one machine, with a summary.

Starts both emulators and the three services (see ``LocalStack``), then plays a business day:
customers and posted invoices in BC (USD, EUR, JPY, KWD), which the connector pushes to Stripe;
card payments in Stripe (one partial), a credit memo and a bank transfer in BC on the invoice
left unpaid, a partial refund, a payout per currency; and prints what moved.

Each run works in ``var/demo/<time>/`` (database, secrets file, logs) and writes the stack's
environment there as ``env`` for a shell to ``source`` (``run_dir``); ``var/demo/latest`` points
at the newest run. SIGINT (Ctrl-C) and SIGTERM stop the demo the same way at any moment, during
start-up, the business day or ``--keep-running``: every service process and the emulators are
stopped, the run's bus namespace (its queues and exchanges) is deleted from the broker, one
"stopped" line is printed, and the exit status is 0. A signal arriving while that stop is under
way is noted and does not cut it short, since an interrupted stop would leave processes behind.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from mlc_local.run_dir import ENV_FILE
from mlc_local.run_dir import LATEST
from mlc_local.run_dir import display_path
from mlc_local.run_dir import new_run_dir
from mlc_local.run_dir import point_latest
from mlc_local.run_dir import write_env_file
from mlc_local.scenario import INVOICES
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions
from mlc_local.stack import delete_topology
from mlc_local.stop_signals import Stop
from mlc_local.stop_signals import StopSignals
from mlc_local.summary import print_summary
from mlconnector.bus import Topology

DEMO_PORTS = {"bc-gateway": 8081, "stripe-gateway": 8082, "reconciler": 8083}


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

    progress.begin("A client pays the rest of an invoice by payment link, naming no invoice")
    partly = posted[4]
    connector.pay_by_link(
        640250, "kwd", "accounts@gulf.example", f"Remainder of invoice {partly['number']}"
    )
    connector.wait_for(
        "unmatched payment",
        lambda: any(r["state"] == "unmatched" for r in connector.records(kind="payment")),
        timeout=60,
        progress=progress.tick,
    )
    progress.done("left for a clerk to apply in the console")

    progress.begin("The morning check: each clearing account in BC against Stripe's balance")
    checked = connector.check_clearing("demo (the daily drift check)")
    agreeing = sum(1 for c in checked if c.get("explained"))
    progress.done(f"{agreeing} of {len(checked)} currencies agree")
    return {"connector": connector, "payouts": payouts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlc-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("var/demo"),
        help="where each run gets its directory and the `latest` link (default: var/demo)",
    )
    parser.add_argument(
        "--amqp-url",
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        help="the RabbitMQ broker (default: the local one, as scripts/run.sh starts it)",
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="stay up until Ctrl-C or SIGTERM"
    )
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="serve the three services on free ports instead of 8081-8083",
    )
    args = parser.parse_args(argv)
    signals = StopSignals()
    signals.install()
    run_dir: Path | None = None
    bus = "no bus namespace was used"
    try:
        run_dir = new_run_dir(args.workdir.resolve())
        namespace = "demo-" + run_dir.name
        bus = f"bus namespace {namespace} could not be deleted (see above)"
        try:
            _demo(args, run_dir, namespace, signals)
        finally:
            signals.hold()
            if _delete_bus(args.amqp_url, namespace):
                bus = f"bus namespace {namespace} is deleted"
    except Stop:
        pass
    if signals.received:
        kept = f"; this run's files stay in {display_path(run_dir)}" if run_dir else ""
        print(
            f"\nml-connector demo stopped ({signals.received}): its services and emulators "
            f"have exited and {bus}{kept}.",
            flush=True,
        )
    return 0


def _demo(args: argparse.Namespace, run_dir: Path, namespace: str, signals: StopSignals) -> None:
    progress = Progress(total=10)
    options = StackOptions(
        workdir=run_dir,
        amqp_url=args.amqp_url,
        bus_namespace=namespace,
        ports=None if args.free_ports else DEMO_PORTS,
    )
    progress.begin("Starting the BC and Stripe emulators and the three services")
    with contextlib.ExitStack() as running:
        stack = running.enter_context(LocalStack(options))
        # Runs first on the way out, whatever the reason: no signal may cut the stop short.
        running.callback(signals.hold)
        env_file = _write_env(stack, run_dir)
        progress.done(f"logs in {display_path(run_dir / 'log')}, environment in {env_file}")
        result = run(stack, progress)
        elapsed = time.monotonic() - progress.started
        print_summary(stack, result["connector"], elapsed, env_file, args.keep_running)
        if args.keep_running:
            print("\nStill running; Ctrl-C (or SIGTERM) stops everything.", flush=True)
            while True:
                time.sleep(3600)


def _write_env(stack: LocalStack, run_dir: Path) -> str:
    """Write the run's ``env`` file and point ``latest`` at the run; what to ``source``."""
    env_file = write_env_file(
        run_dir,
        stack.operator_env(),
        f"ml-connector demo started {time.strftime('%Y-%m-%d %H:%M:%S')}: the stack's "
        "environment,\nfor its CLIs and the reconciler API. In a shell:\n"
        f"  source {display_path(run_dir.parent / LATEST / ENV_FILE)}\n"
        "It holds the secrets file's master key and the API token: keep it to yourself.",
    )
    try:
        return display_path(point_latest(run_dir) / env_file.name)
    except OSError as exc:
        print(f"warning: could not point {run_dir.parent / LATEST} at this run: {exc}")
        return display_path(env_file)


def _delete_bus(amqp_url: str, namespace: str) -> bool:
    """Delete the run's queues and exchanges; False (and a warning) when the broker refused:
    the rest of the stop goes on."""
    try:
        delete_topology(amqp_url, Topology.isolated(namespace))
    except Exception as exc:  # any broker failure: say so; the stop must still finish
        print(
            f"warning: could not delete bus namespace {namespace} from the broker "
            f"({type(exc).__name__}: {exc}); its queues' names end in .{namespace}",
            file=sys.stderr,
        )
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
