"""Backfill memory: ``stripe-gateway poll`` and ``bc-gateway poll-invoices`` over 5,000, 20,000
and 50,000 objects, as real processes, with their peak resident memory.

Run with ``.venv/bin/python bench/backfill_memory.py`` (RabbitMQ on 127.0.0.1:5672). Both
emulators run in this process (Stripe over HTTP, BC over HTTPS with its token endpoint), with
their rate limits at their real values: Stripe's sandbox 25 requests a second (a 429 is retried by
the gateway's client with jittered back-off), BC's 6,000 requests per 5 minutes and 5 concurrent
requests. For each size N:

- **Stripe**: N succeeded charges are bulk-seeded (``POST /_emulator/bulk/charges``), half 40-50
  days old (past the 30-day event retention: the poll lists ``/v1/charges`` and publishes
  ``poll:charge.succeeded:<id>`` backfills) and half 1-10 days old with their
  ``charge.succeeded`` events (the poll lists ``/v1/events``). ``stripe-gateway poll --since
  <60 days ago> --until <now> --cursor FILE`` then runs as a subprocess.
- **BC**: a fresh company gets N posted (Open) sales invoices (``POST .../invoices/bulk``), and
  ``bc-gateway poll-invoices --since <just before> --cursor FILE`` runs as a subprocess, with the
  gateway's default page size (``MLC_BC_PAGE_SIZE``, 1,000).

Each command publishes to its own namespace of the real broker, whose work queue is bound to the
routing keys of both polls (``stripe.event.#``, ``bc.#``). The peak RSS is the command's own
``ru_maxrss`` from ``os.wait4`` (the kernel's high-water mark of that one process, what ``VmHWM``
shows in ``/proc/<pid>/status``), taken by a small launcher process (see ``LAUNCHER`` for why
this process cannot take it itself), not ``RUSAGE_CHILDREN``, which is the maximum over every
child waited for so far. After each run the queue is consumed and its messages counted,
distinct message ids too. The table shows N, the messages the command reported published, the
wall time of the command (interpreter start-up and imports included), objects per second, the
API requests it made (429 refusals included, and how many of them there were) and the peak RSS.
The script exits 1 if any peak is at or above ``--limit-mb`` (150 MB) or any count is not N.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import requests

from bc_emulator.server import EmulatorServer as BcEmulator
from mlc_local.processes import bin_path
from mlconnector.bus import Topology
from mlconnector.secrets_file import EncryptedFileSecrets
from stripe_emulator.server import EmulatorServer as StripeEmulator

DAY = 86400
TENANT = "00000000-0000-0000-0000-0000000000b1"
CLIENT_ID = "00000000-0000-0000-0000-0000000000c2"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass
class Run:
    poll: str
    n: int
    published: int
    delivered: int
    distinct: int
    seconds: float
    peak_mb: float
    requests: int
    refused: int
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.published == self.delivered == self.distinct == self.n


# A small go-between that starts the command and reports its ``ru_maxrss`` (from ``os.wait4``:
# that one child's, not RUSAGE_CHILDREN's maximum over every child so far) and wall time. The
# command cannot be measured from this process directly: a child spawned by this large process
# (both emulators and their data live here) takes over this process's high-water mark when it
# execs (Linux copies the old address space's peak into the new process's ``maxrss``), so its
# ``ru_maxrss`` would be this process's size. Spawned from a small interpreter, the floor is that
# interpreter's ~10 MB instead, far below any gateway command.
LAUNCHER = """
import os, subprocess, sys, time
started = time.monotonic()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as report:
    report.write(f"{usage.ru_maxrss} {time.monotonic() - started}")
sys.exit(child.returncode)
"""


def run_measured(
    argv: list[str], env: dict[str, str], workdir: Path, name: str
) -> tuple[int, float, float, str]:
    """Run a command; (exit code, seconds, peak RSS in MiB of that process, stdout)."""
    out_path, err_path = workdir / f"{name}.out", workdir / f"{name}.log"
    report = workdir / f"{name}.rusage"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        result = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), *argv],
            env=env,
            stdout=out,
            stderr=err,
            check=False,
        )
    maxrss_kib, seconds = report.read_text().split()
    return result.returncode, float(seconds), int(maxrss_kib) / 1024, out_path.read_text()


def drain_ids(amqp_url: str, queue: str) -> tuple[int, int]:
    """Consume everything in ``queue``: (messages, distinct message ids)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ids: set[str] = set()
    total = 0
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1000)
        for method, properties, _body in channel.consume(queue, inactivity_timeout=2):
            if method is None:
                break
            total += 1
            ids.add(str(properties.message_id))
            if total % 500 == 0:
                channel.basic_ack(method.delivery_tag, multiple=True)
        if total % 500:
            channel.basic_ack(0, multiple=True)
        channel.cancel()
    finally:
        connection.close()
    return total, len(ids)


class Bench:
    """The two emulators, a throwaway bus namespace, the secrets file and the commands' env."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.workdir = Path(tempfile.mkdtemp(prefix="mlc-bench-backfill-"))
        self.bc_secret = secrets.token_urlsafe(24)
        self.stripe = StripeEmulator()  # rate limits at their defaults: sandbox 25/s
        self.bc = BcEmulator(
            {
                "test_mode": True,
                "clients": [
                    {"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": self.bc_secret}
                ],
            },
            ca_file=self.workdir / "bc-ca.pem",
        )
        namespace = "bench-" + uuid.uuid4().hex[:8]
        self.topology = Topology.isolated(namespace)
        master_key = secrets.token_urlsafe(24)
        store = EncryptedFileSecrets(self.workdir / "secrets.enc", master_key)
        stripe_secrets = {
            "api_key": "sk_test_" + secrets.token_hex(16),
            "webhook_secret": "whsec_" + secrets.token_hex(16),
        }
        bc_secrets = {
            "client_id": CLIENT_ID,
            "client_secret": self.bc_secret,
            "client_state": secrets.token_urlsafe(32),
        }
        store.write("ml-connector/stripe", stripe_secrets)
        store.write("ml-connector/bc", bc_secrets)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
        self.env.update(
            MLC_ENVIRONMENT="test",
            MLC_LOG_LEVEL="INFO",
            MLC_AMQP_URL=amqp_url,
            MLC_BUS_NAMESPACE=namespace,
            MLC_SECRETS_BACKEND="file",
            MLC_SECRETS_FILE=str(self.workdir / "secrets.enc"),
            MLC_MASTER_KEY=master_key,
        )

    def start(self) -> None:
        self.stripe.start()
        self.bc.start()
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.topology.declare(connection.channel())
        connection.close()
        self.env.update(
            MLC_STRIPE_API_BASE=self.stripe.base_url,
            MLC_BC_TENANT_ID=TENANT,
            MLC_BC_ENVIRONMENT="production",
            MLC_BC_API_BASE=self.bc.base_url,
            MLC_BC_AUTHORITY_HOST=self.bc.base_url,
            MLC_BC_CA_BUNDLE=self.bc.ca_file,
        )

    def stop(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.topology.delete(connection.channel())
        connection.close()
        self.stripe.stop()
        self.bc.stop()

    def bc_admin(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(
            method,
            self.bc.admin + path,
            json=body,
            verify=self.bc.ca_file,
            timeout=600,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"BC emulator {method} {path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def measure(self, poll: str, n: int, argv: list[str], env: dict[str, str]) -> Run:
        name = f"{poll.split()[0]}-{n}"
        code, seconds, peak, out = run_measured(argv, env, self.workdir, name)
        if poll.startswith("stripe"):
            found = re.search(r"total: (\d+) published", out)
        else:
            found = re.search(r"published (\d+) bc\.invoice\.observed", out)
        delivered, distinct = drain_ids(self.amqp_url, self.topology.queue)
        return Run(poll, n, int(found.group(1)) if found else -1, delivered, distinct, seconds,
                   peak, 0, 0, code)  # fmt: skip

    def stripe_poll(self, n: int) -> Run:
        self.stripe.reset()
        now = int(time.time())
        old = n // 2
        past = {"count": old, "since": now - 50 * DAY, "until": now - 40 * DAY, "events": False}
        recent = {"count": n - old, "since": now - 10 * DAY, "until": now - DAY}
        self.stripe.admin("POST", "bulk/charges", past)
        self.stripe.admin("POST", "bulk/charges", recent)
        self.stripe.clear_requests()
        cursor = self.workdir / f"stripe-{n}.cursor.json"
        argv = [bin_path("stripe-gateway"), "poll", "--since", _iso(now - 60 * DAY),
                "--until", _iso(now), "--cursor", str(cursor), "--progress", "log",
                "--progress-every", "50"]  # fmt: skip
        run = self.measure("stripe-gateway poll", n, argv, self.env)
        log = self.stripe.state.requests.entries(path="/v1/")
        run.requests, run.refused = len(log), sum(1 for e in log if e.status == 429)
        return run

    def bc_poll(self, n: int) -> Run:
        self.bc_admin("POST", "/reset")
        company = self.bc_admin(
            "POST", "/companies", {"tenant": TENANT, "environment": "production"}
        )
        cid = company["id"]
        customer = self.bc_admin("POST", f"/companies/{cid}/customers",
                                 {"number": "C10000", "displayName": "Bench Customer"})  # fmt: skip
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        self.bc_admin("POST", f"/companies/{cid}/invoices/bulk",
                      {"count": n, "customerId": customer["id"], "post": True})  # fmt: skip
        before = self.bc_admin("GET", "/stats")
        cursor = self.workdir / f"bc-{n}.cursor.json"
        argv = [bin_path("bc-gateway"), "poll-invoices", "--since", since.isoformat(),
                "--cursor", str(cursor), "--progress", "log", "--progress-every", "10"]  # fmt: skip
        run = self.measure(
            "bc-gateway poll-invoices", n, argv, {**self.env, "MLC_BC_COMPANY_ID": cid}
        )
        after = self.bc_admin("GET", "/stats")
        run.requests = after["apiRequests"] - before["apiRequests"]
        run.refused = after["throttled"] - before["throttled"]
        return run


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("MLC_AMQP_URL", AMQP_URL))
    parser.add_argument("--sizes", default="5000,20000,50000", help="comma-separated N")
    parser.add_argument("--limit-mb", type=float, default=150.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    bench = Bench(args.url)
    bench.start()
    runs: list[Run] = []
    try:
        for n in sizes:
            runs.append(bench.stripe_poll(n))
            runs.append(bench.bc_poll(n))
    finally:
        bench.stop()

    print(
        "Backfill polls as real processes against the emulators (rate limits on: Stripe 25 "
        "requests/s, BC 6,000 per 5 min); pages of 100 (Stripe) and 1,000 (BC)"
    )
    header = (
        f"{'poll':26} {'N':>7} {'published':>10} {'delivered':>10} {'seconds':>8} "
        f"{'objects/s':>10} {'requests':>9} {'429s':>5} {'peak RSS MB':>12}"
    )
    print(header)
    for run in runs:
        mark = "" if run.ok else "  <- WRONG COUNT" if run.exit_code == 0 else "  <- FAILED"
        print(
            f"{run.poll:26} {run.n:7d} {run.published:10d} {run.delivered:10d} "
            f"{run.seconds:8.1f} {run.n / run.seconds:10.0f} {run.requests:9d} "
            f"{run.refused:5d} {run.peak_mb:12.1f}{mark}"
        )
    ok = all(run.ok for run in runs)
    for poll in ("stripe-gateway poll", "bc-gateway poll-invoices"):
        mine = {run.n: run.peak_mb for run in runs if run.poll == poll}
        if len(mine) > 1:
            low, high = min(mine), max(mine)
            print(
                f"{poll}: peak RSS at {high:,} / at {low:,} objects = {mine[high] / mine[low]:.2f}x"
            )
    peak = max(run.peak_mb for run in runs)
    within = peak < args.limit_mb
    print(
        f"highest peak RSS {peak:.1f} MB: {'under' if within else 'NOT under'} "
        f"{args.limit_mb:.0f} MB; counts {'all right' if ok else 'WRONG'}; logs in {bench.workdir}"
    )
    return 0 if ok and within else 1


if __name__ == "__main__":
    sys.exit(main())
