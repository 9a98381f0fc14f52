"""The first connection, at scale: 1,000 open invoices loaded across an interruption (issue 14).

Run with ``.venv/bin/python bench/initial_load.py`` (RabbitMQ on 127.0.0.1:5672). It starts one
``LocalStack`` with BC's webhooks held back, so the invoices exist in BC before the connector
knows of them, as at a firm's first connection. Then, as the IT person would:

1. ``bc-gateway initial-load --preview``: how long the preview takes and what it counts;
2. ``bc-gateway initial-load --cursor FILE`` in pages of 100, killed once half of them are
   published, then ``--resume --cursor FILE``;
3. waits until the reconciler has pushed every invoice to Stripe (the gateways pace BC and
   Stripe as in production), and checks that each BC invoice became exactly one Stripe invoice.

Printed: the preview's time, the load's time to publish, the time until all are in Stripe and
the rate, Stripe and BC calls per invoice, and the duplicates (must be 0).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

from e2e_payments import AMQP_URL
from e2e_payments import BcRoutes
from e2e_payments import CallCounter
from e2e_payments import add_customer
from e2e_payments import all_done
from e2e_payments import delete_namespace
from e2e_payments import post_invoices
from e2e_payments import wait_until

from mlc_local.processes import bin_path
from mlc_local.processes import run_cli
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlc_local.stack import StackOptions


def run(count: int, page: int) -> list[str]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory(prefix="mlc-bench-load-") as tmp:
            options = StackOptions(
                workdir=Path(tmp), amqp_url=AMQP_URL, bus_namespace=namespace, log_level="WARNING"
            )
            stack = LocalStack(options)
            counter = CallCounter(stack, BcRoutes(stack))  # before the emulator serves
            with stack:
                load = Path(tmp) / "load.json"
                return _load(stack, Connector(stack), counter, count, page, load)
    finally:
        delete_namespace(namespace)


def _load(
    stack: LocalStack,
    connector: Connector,
    counter: CallCounter,
    count: int,
    page: int,
    cursor: Path,
) -> list[str]:
    stack.bc_admin("PATCH", "/config", {"notification_delay_seconds": 86400})
    add_customer(stack, "FIRST")
    post_invoices(stack, "FIRST", count, Decimal("125.50"))
    counter.start()
    started = time.monotonic()
    preview = run_cli(["bc-gateway", "initial-load", "--preview"], stack.env)
    preview_s = time.monotonic() - started

    env = {**stack.env, "MLC_BC_PAGE_SIZE": str(page)}
    started = time.monotonic()
    first = subprocess.Popen(  # noqa: S603 - our own console script
        [bin_path("bc-gateway"), "initial-load", "--cursor", str(cursor), "--progress", "log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def half() -> bool:
        try:
            return int(json.loads(cursor.read_text())["published"]) >= count // 2
        except (OSError, ValueError, KeyError):
            return False

    wait_until("half the load published", half, timeout=300)
    first.kill()
    first.wait()
    stopped = int(json.loads(cursor.read_text())["published"])
    run_cli(["bc-gateway", "initial-load", "--resume", "--cursor", str(cursor)], env)
    publish_s = time.monotonic() - started
    pushed_s = (
        wait_until(
            "every invoice in Stripe", lambda: all_done(connector, "invoice", count), timeout=1800
        )
        + publish_s
    )
    calls = counter.read()
    records = connector.records(kind="invoice")
    failed = [r for r in records if r["state"] != "succeeded"]
    by_bc = Counter(
        str(i["metadata"].get("bc_invoice_id"))
        for i in stack.stripe.admin("GET", "objects/invoice", params={"limit": 100000})["data"]
    )
    duplicates = sum(n - 1 for n in by_bc.values() if n > 1)
    return [
        f"initial load of {count} open invoices, pages of {page}, stopped after {stopped}",
        f"  preview: {preview_s:.1f} s ({preview.splitlines()[0]})",
        f"  publish (both runs): {publish_s:.1f} s",
        f"  all in Stripe after: {pushed_s:.1f} s, {count / pushed_s:.1f} invoices/s",
        f"  Stripe calls per invoice: {calls.stripe_total / count:.2f}; "
        f"BC calls per invoice: {calls.bc_total / count:.2f}",
        f"  records not succeeded: {len(failed)}; Stripe invoices pushed twice: {duplicates}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="open invoices (1000)")
    parser.add_argument("--page", type=int, default=100, help="BC page size of the load (100)")
    args = parser.parse_args()
    for line in run(args.count, args.page):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
