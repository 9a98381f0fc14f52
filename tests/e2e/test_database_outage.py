"""Checklist case 10: PostgreSQL goes away while payments arrive; nothing is lost or doubled.

The stack runs on a private PostgreSQL cluster (``mlc_local.private_postgres``) that the test
stops and starts, so the shared server is never touched. While the database is down, Stripe's
webhooks are still accepted (the gateways need no database) and queued; the consumer cannot
commit, so it acknowledges nothing: every message goes to a wait queue and comes back. The
outage is not the messages' fault, so however long it lasts none of them is failed or parked.
Once the database is back, every payment is in BC exactly once.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from e2e_helpers import bc_lines
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import E2E_ENV
from factories import running_stack
from factories import wait_until

from mlc_local.private_postgres import PrivatePostgres
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

PAYMENTS = 4
# Longer than the retry budget of a message failing on its own account (four retries,
# doubling from 1 s: about 15 s), so counting the outage against messages would fail them.
OUTAGE_S = 20


@pytest.fixture(scope="module")
def database() -> Iterator[PrivatePostgres]:
    # Under /tmp itself: initdb runs as the postgres user, which cannot reach pytest's own
    # temporary directories when the tests run as root.
    base = Path(tempfile.mkdtemp(prefix="mlc-pg-"))
    try:
        with PrivatePostgres(base / "cluster") as cluster:
            yield cluster
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def outage_stack(
    tmp_path_factory: pytest.TempPathFactory, amqp_url: str, database: PrivatePostgres
) -> Iterator[LocalStack]:
    url = database.create_database("reconciler")
    with running_stack(tmp_path_factory.mktemp("stack"), amqp_url, url, E2E_ENV) as stack:
        yield stack


def _inbox(url: str) -> tuple[int, int]:
    """Messages in the inbox, and how many of them are processed."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            total, processed = connection.execute(
                sa.text("SELECT count(*), count(processed_at) FROM inbox")
            ).one()
    finally:
        engine.dispose()
    return int(total), int(processed)


def test_payments_arriving_during_a_database_outage_are_posted_once_after_it(
    outage_stack: LocalStack, database: PrivatePostgres
) -> None:
    stack = outage_stack
    connector = Connector(stack)
    invoices = [
        post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": 40 + n})
        for n in range(PAYMENTS)
    ]
    records = [pushed(connector, invoice) for invoice in invoices]

    database.stop()
    try:
        charges = [connector.pay(record["stripe_ref"])["charge"]["id"] for record in records]
        time.sleep(OUTAGE_S)
        # Nothing could be committed, so nothing was posted to BC either.
        assert all(bc_lines(stack, charge) == [] for charge in charges)
    finally:
        database.start()

    for charge, invoice in zip(charges, invoices, strict=True):
        payment = wait_record(connector, timeout=120, kind="payment", stripe_ref=charge)
        assert payment["state"] == "succeeded", payment
        [line] = wait_posted(stack, charge)
        assert line["appliesToInvoiceId"] == invoice["id"]
        actions = {s["action"] for s in connector.record(payment["id"])["audit"]}
        assert not {"failed", "dead-lettered"} & actions, actions
    assert [r for r in connector.records() if r["state"] == "failed"] == []
    # Every message taken in is processed in the end. The payments above settle on whichever of
    # their two events comes first; the other may still be on its way (it finds the posting
    # and stops), so the inbox is given a moment to drain rather than read at one instant.
    seen: list[tuple[int, int]] = []

    def drained() -> bool:
        seen.append(_inbox(stack.env["MLC_DATABASE_URL"]))
        return seen[-1][0] == seen[-1][1]

    assert wait_until(drained, timeout_s=30), f"inbox (total, processed): {seen[-1]}"
