"""The first connection at full size (issue 14): 1,000 open invoices, loaded across an interruption.

A firm connecting ml-connector already has open posted invoices in BC. With BC's webhooks held
back (the invoices exist before the connector knows of them), the IT person previews the load
(``bc-gateway initial-load --preview``), starts it in pages of 100, the process is killed once
half of them are published, and ``--resume`` finishes it from the cursor file. Every BC invoice
must become exactly one finalized Stripe invoice with the same total, and every record succeed.
``bench/initial_load.py`` measures the same path (time, calls per invoice); this test holds the
outcome. Its own stack: it fills BC and Stripe with a thousand invoices.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from factories import wait_until

from mlc_local.processes import bin_path
from mlc_local.processes import run_cli
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

COUNT = 1000
PAGE = 100
CUSTOMER = "FIRST1000"


def _published(cursor: Path) -> int:
    try:
        return int(json.loads(cursor.read_text())["published"])
    except (OSError, ValueError, KeyError):
        return 0


def test_a_thousand_open_invoices_are_previewed_then_pushed_once_each_across_a_kill(
    stack: LocalStack, connector: Connector, tmp_path: Path
) -> None:
    stack.bc_admin("PATCH", "/config", {"notification_delay_seconds": 86400})
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/customers",
        {"number": CUSTOMER, "displayName": "First connection", "email": "ap@first.example"},
    )
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/invoices/bulk",
        {
            "count": COUNT,
            "customerNumber": CUSTOMER,
            "currencyCode": "USD",
            "unitPrice": Decimal("125.50"),
            "quantity": 1,
            "post": True,
        },
    )

    preview = run_cli(["bc-gateway", "initial-load", "--preview"], stack.env)
    assert f"{COUNT} open invoice(s)" in preview, preview
    assert "USD: 1000 invoice(s), 125,500.00 open" in preview, preview
    assert f"{COUNT} would be pushed, 0 refused" in preview, preview
    assert connector.records(kind="invoice") == []  # a preview pushes nothing

    cursor = tmp_path / "load.json"
    env = {**stack.env, "MLC_BC_PAGE_SIZE": str(PAGE)}
    first = subprocess.Popen(  # noqa: S603 - our own console script
        [bin_path("bc-gateway"), "initial-load", "--cursor", str(cursor)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: _published(cursor) >= COUNT // 2, timeout_s=120)
    finally:
        first.kill()
        first.wait()
    stopped = json.loads(cursor.read_text())
    assert stopped["status"] == "running"
    assert COUNT // 2 <= stopped["published"] < COUNT
    out = run_cli(["bc-gateway", "initial-load", "--resume", "--cursor", str(cursor)], env)
    assert f"resumed from the cursor: {stopped['published']}" in out
    assert json.loads(cursor.read_text())["status"] == "done"

    def all_pushed() -> bool:
        records = connector.records(kind="invoice")
        return len(records) == COUNT and all(r["state"] == "succeeded" for r in records)

    started = time.monotonic()
    assert wait_until(all_pushed, timeout_s=240), "not every invoice reached Stripe"
    took = time.monotonic() - started

    invoices = stack.stripe.admin("GET", "objects/invoice", params={"limit": 100000})["data"]
    by_bc = Counter(str(i["metadata"].get("bc_invoice_id")) for i in invoices)
    assert len(by_bc) == COUNT, "each BC invoice is one Stripe invoice"
    assert max(by_bc.values()) == 1, f"pushed twice: {[k for k, n in by_bc.items() if n > 1]}"
    assert {i["status"] for i in invoices} == {"open"}
    assert {i["total"] for i in invoices} == {12550}
    assert took < 240
