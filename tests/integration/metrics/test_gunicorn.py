"""Under gunicorn with two workers, ``/metrics`` adds up what every worker counted.

stripe-gateway runs as in production (``stripe-gateway serve``: gunicorn, the edge worker, two
workers, a command port). Forged webhooks arrive on fresh connections, from several threads at
once, until both workers have refused some; each worker's own file in the multiprocess
directory then holds its share, and every scrape, whichever worker answers it, reports the sum.
On the real sockets, ``/metrics`` answers on the command port only.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import time
from pathlib import Path

import pytest
from factories import free_port
from metrics_support import count
from metrics_support import scrape_url
from prometheus_client.multiprocess import MultiProcessCollector

from mlc_local.processes import Process
from mlc_local.processes import wait_ready

pytestmark = pytest.mark.rabbitmq

REFUSED = "mlc_webhooks_refused_total"


def forge(port: int) -> int:
    """One forged Stripe delivery on its own connection; the status it got."""
    body = json.dumps({"id": "evt_forged", "type": "invoice.paid"}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}",
            "Connection": "close",
        }
        connection.request("POST", "/webhooks/stripe", body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def per_worker(directory: Path) -> dict[str, float]:
    """Forged webhooks refused, per worker pid, read from each worker's own counter file."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = path.stem.split("_")[1]
        merged = MultiProcessCollector.merge([str(path)])
        counts[pid] = sum(
            s.value
            for family in merged
            for s in family.samples
            if s.name == REFUSED and s.labels.get("reason") == "signature"
        )
    return counts


def test_two_workers_counts_are_added_up(
    environ: dict[str, str], tmp_path: Path, namespace: str
) -> None:
    port, command_port = free_port(), free_port()
    env = {
        **environ,
        "MLC_PORT": str(port),
        "MLC_COMMAND_PORT": str(command_port),
        "MLC_BIND_HOST": "127.0.0.1",
        "MLC_WEB_WORKERS": "2",
        "MLC_WORKER_TMP_DIR": str(tmp_path),
        # Each forged delivery spends refusal budget; this test is not about the limit.
        "MLC_RATELIMIT_WEBHOOK_REFUSALS": "100000/minute",
    }
    gateway = Process("stripe-gateway", ["stripe-gateway", "serve"], env, tmp_path)
    try:
        wait_ready(f"http://127.0.0.1:{port}", gateway)
        # `serve` execs gunicorn in place: the master keeps the pid, and names its directory.
        directory = tmp_path / f"mlc-metrics-stripe-gateway-{gateway.popen.pid}"
        assert directory.is_dir()

        sent = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            while sent < 400:
                statuses = list(pool.map(forge, [port] * 16))
                assert set(statuses) == {400}
                sent += len(statuses)
                if sum(1 for n in per_worker(directory).values() if n > 0) >= 2:
                    break
        shares = per_worker(directory)
        assert sum(1 for n in shares.values() if n > 0) >= 2, shares
        assert sum(shares.values()) == sent

        # Whichever worker answers the scrape, it reports every worker's count.
        for _ in range(6):
            body = scrape_url(f"http://127.0.0.1:{command_port}/metrics")
            assert count(body, REFUSED, source="stripe", reason="signature") == sent
            assert 'pid="' not in body.split(REFUSED, 1)[1].split("\n# HELP", 1)[0]

        # Never on the public webhook port.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/metrics")
        assert connection.getresponse().status == 404
        connection.close()
    finally:
        gateway.stop()
    assert not directory.exists(), "the master removes the directory it made"
    # A worker whose prometheus_client was imported before the directory was set says so.
    assert "imported before it" not in gateway.log_path.read_text()
