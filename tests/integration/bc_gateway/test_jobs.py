"""The CronJob commands and the running service, as real processes against the emulator.

``bc-gateway serve`` runs under gunicorn on a free loopback port (the emulator calls it for the
validation handshake and the notifications); ``renew-subscriptions`` and ``poll-invoices`` run as
the console script a CronJob would start. Each test publishes to its own bus namespace.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from factories import bin_path
from factories import drain
from factories import queue_depth
from factories import wait_until

from mlconnector.bus import Topology
from mlconnector.contracts import load_message

pytestmark = pytest.mark.rabbitmq

DAY = 24 * 3600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_path("bc-gateway"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def depth(amqp_url: str, queue: str) -> int:
    try:
        return queue_depth(amqp_url, queue)
    except pika.exceptions.ChannelClosedByBroker:  # not declared yet
        return 0


def consume(amqp_url: str, queue: str, expected: int) -> list[bytes]:
    """Read ``expected`` messages fast (prefetch, one multiple-ack), then stop."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    bodies: list[bytes] = []
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1000)
        for method, _properties, body in channel.consume(queue, inactivity_timeout=2):
            if method is None:
                break
            bodies.append(body)
            if len(bodies) % 500 == 0 or len(bodies) == expected:
                channel.basic_ack(method.delivery_tag, multiple=True)
            if len(bodies) == expected:
                break
        channel.cancel()
    finally:
        connection.close()
    return bodies


@pytest.fixture
def served(env: dict[str, str], namespace: Topology, tmp_path: Path) -> Iterator[dict[str, str]]:
    """``bc-gateway serve`` as a real process; yields the environment the jobs should use."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/bc"
    job_env = {
        **env,
        "MLC_BUS_NAMESPACE": namespace.exchange.removeprefix("mlc.events."),
        "MLC_BC_NOTIFICATION_URL": url,
    }
    log_path = tmp_path / "bc-gateway.log"
    serve_env = {**job_env, "MLC_PORT": str(port), "MLC_BIND_HOST": "127.0.0.1"}
    serve_env["MLC_WEB_WORKERS"] = "1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [bin_path("bc-gateway"), "serve"], env=serve_env, stdout=log, stderr=subprocess.STDOUT
        )

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    try:
        assert wait_until(ready, timeout_s=30), log_path.read_text(errors="replace")
        yield job_env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class TestRenewal:
    def test_renewal_before_expiry_keeps_notifications_flowing_across_three_days(
        self, served: dict[str, str], admin: Any, company: Any, namespace: Topology, amqp_url: str
    ) -> None:
        created = run(served, "renew-subscriptions")
        assert created.returncode == 0, created.stderr
        assert "salesInvoices: created subscription" in created.stdout
        assert "salesCreditMemos: created subscription" in created.stdout
        assert "customers: created subscription" in created.stdout
        nothing_due = run(served, "renew-subscriptions")
        assert nothing_due.stdout.count(": ok subscription") == 3, nothing_due.stderr

        admin.advance(2.5 * DAY)
        renewed = run(served, "renew-subscriptions")
        assert renewed.returncode == 0, renewed.stderr
        assert renewed.stdout.count(": renewed subscription") == 3

        admin.advance(2 * DAY)  # 4.5 days after creation: alive only thanks to the renewal
        live = admin.call("GET", "subscriptions")["value"]
        assert len(live) == 3
        seeded = company.seed(admin, "invoices", {"customerId": company.customer_id, "lines": []})
        admin.call("POST", "notifications/flush", {"timeout": 10})

        assert wait_until(lambda: depth(amqp_url, namespace.queue) >= 1, timeout_s=10)
        messages = [load_message(body) for _, body in drain(amqp_url, namespace.queue)]
        invoice_messages = [m for m in messages if m.data.get("entity") == "salesInvoices"]
        assert invoice_messages, [m.type for m in messages]
        assert invoice_messages[0].type == "bc.notification.salesInvoices.created"
        assert invoice_messages[0].data["entity_id"] == seeded["id"]

    def test_without_a_notification_url_the_job_says_what_to_set(
        self, env: dict[str, str], admin: Any, company: Any
    ) -> None:
        result = run(env, "renew-subscriptions")
        assert result.returncode == 2
        assert "MLC_BC_NOTIFICATION_URL" in result.stderr


class TestPoll:
    def test_paging_through_5000_invoices_publishes_exactly_5000_messages(
        self,
        env: dict[str, str],
        admin: Any,
        company: Any,
        namespace: Topology,
        amqp_url: str,
    ) -> None:
        company.seed(admin, "invoices/bulk", {"count": 3, "customerId": company.customer_id})
        company.seed(
            admin, "invoices/bulk", {"count": 4, "customerId": company.customer_id, "post": True}
        )
        time.sleep(0.01)
        since = dt.datetime.now(dt.UTC)
        time.sleep(0.01)
        seeded = company.seed(
            admin,
            "invoices/bulk",
            {"count": 5000, "customerId": company.customer_id, "post": True},
        )
        job_env = {
            **env,
            "MLC_BUS_NAMESPACE": namespace.exchange.removeprefix("mlc.events."),
            "MLC_BC_PAGE_SIZE": "1000",
        }

        started = time.monotonic()
        result = run(job_env, "poll-invoices", "--since", since.isoformat())
        elapsed = time.monotonic() - started

        assert result.returncode == 0, result.stderr
        assert "published 5000 bc.invoice.observed" in result.stdout
        assert depth(amqp_url, namespace.queue) == 5000
        bodies = [json.loads(body) for body in consume(amqp_url, namespace.queue, 5000)]
        assert len({b["id"] for b in bodies}) == 5000
        assert {b["data"]["entity_id"] for b in bodies} == set(seeded["ids"])
        assert {b["type"] for b in bodies} == {"bc.invoice.observed"}
        print(f"\n5,000 invoices paged and published in {elapsed:.2f} s (whole process)")

    def test_a_second_poll_repeats_the_same_message_ids(
        self, env: dict[str, str], admin: Any, company: Any, namespace: Topology, amqp_url: str
    ) -> None:
        company.seed(
            admin, "invoices/bulk", {"count": 3, "customerId": company.customer_id, "post": True}
        )
        job_env = {**env, "MLC_BUS_NAMESPACE": namespace.exchange.removeprefix("mlc.events.")}
        assert run(job_env, "poll-invoices", "--since-minutes", "5").returncode == 0
        assert run(job_env, "poll-invoices", "--since-minutes", "5").returncode == 0
        ids = [props.message_id for props, _ in drain(amqp_url, namespace.queue)]
        assert len(ids) == 6
        assert len(set(ids)) == 3
