"""Slow clients: signed-webhook latency with 0, 10 and 50 stalled connections, stock vs edge worker.

Run with ``.venv/bin/python bench/slow_clients.py`` (RabbitMQ on 127.0.0.1:5672). A real
stripe-gateway is started under gunicorn twice with the same configuration module
(``stripe_gateway.gunicorn_conf``), once with gunicorn's stock ``gthread`` worker
(``MLC_WEB_WORKER_CLASS=gthread``) and once with ``mlconnector.http_worker.EdgeWorker``, the
default. Against each, for each number of stalled connections, an attacker keeps that many
connections open that have sent headers announcing a 100,000-byte body and one byte of it, and
then nothing (a connection the server drops is reopened at once, so the attack never lets up),
while a client sends signed, handled ``invoice.paid`` events one after another and times each
until the broker-confirmed 200. A delivery that gets no answer within ``--timeout`` seconds
counts as timed out; after three in a row the row is cut short. The table shows, side by side,
p50 and p99 latency and the time-outs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pika
from stripe_gateway_setup import SECRET
from stripe_gateway_setup import prepare

STALL = (
    b"POST /webhooks/stripe HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000\r\n\r\n{"
)
WORKERS = {"stock gthread": "gthread", "edge worker": "edge"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _delivery(tag: str) -> tuple[bytes, dict[str, str]]:
    """One distinct signed delivery, as Stripe sends it."""
    now = int(time.time())
    event = {
        "id": f"evt_slow{tag}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": now,
        "data": {"object": {"id": f"in_slow{tag}", "object": "invoice", "total": 1000}},
        "livemode": False,
        "type": "invoice.paid",
    }
    body = json.dumps(event, indent=2).encode()
    mac = hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={mac}"}


class Attacker:
    """Keeps ``count`` stalled connections open, reopening any the server closes."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(STALL)
            return sock
        except OSError:
            return None

    def _run(self) -> None:
        sockets = [s for s in (self._open() for _ in range(self.count)) if s]
        while not self.stop.is_set():
            if not sockets and not self.count:
                self.stop.wait(0.2)  # nothing to keep stalled: do not spin (and take the GIL)
                continue
            readable = select.select(sockets, [], [], 0.2)[0] if sockets else []
            for sock in readable:  # answered (408) or closed by the server: stall again
                sockets.remove(sock)
                sock.close()
            missing = self.count - len(sockets)
            for _ in range(missing):
                sock = self._open()
                if sock is not None:
                    sockets.append(sock)
                    self.reopened += 1
            if missing and not readable:
                self.stop.wait(0.2)
        for sock in sockets:
            sock.close()

    def __enter__(self) -> Attacker:
        self.thread.start()
        time.sleep(0.5)  # every stalled connection is in before the first delivery
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _measure(
    port: int, count: int, timeout: float, tag: str, min_seconds: float = 0.0
) -> dict[str, float]:
    latencies: list[float] = []
    timeouts = consecutive = 0
    until = time.monotonic() + min_seconds
    i = 0
    while i < count or time.monotonic() < until:
        i += 1
        body, headers = _delivery(f"{tag}{i:06d}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        started = time.perf_counter()
        try:
            connection.request("POST", "/webhooks/stripe", body, headers)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (TimeoutError, OSError):
            ok = False
        finally:
            connection.close()
        if ok:
            latencies.append(time.perf_counter() - started)
            consecutive = 0
        else:
            timeouts += 1
            consecutive += 1
            if consecutive >= 3:
                break
    ordered = sorted(latencies)
    return {
        "ok": len(ordered),
        "timeouts": timeouts,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else float("nan"),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        if ordered
        else float("nan"),
    }


def _wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the gateway on port {port} did not become ready")


@contextlib.contextmanager
def _gateway(env: dict[str, str], worker: str, log: Path) -> Iterator[int]:
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:stripe_gateway.gunicorn_conf",
                "stripe_gateway.wsgi:app",
            ],
            env={**env, "MLC_PORT": str(port), "MLC_WEB_WORKER_CLASS": worker},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(port)
        yield port
    finally:
        process.terminate()
        process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("MLC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    parser.add_argument("--requests", type=int, default=200, help="deliveries per row, at least")
    parser.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="each row lasts at least this long, past the edge worker's 5 s read timeout",
    )
    parser.add_argument("--stalled", default="0,10,50", help="stalled connection counts")
    parser.add_argument("--timeout", type=float, default=10.0, help="per delivery, seconds")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    counts = [int(n) for n in args.stalled.split(",")]

    setup = prepare(args.url, workers=args.workers, threads=args.threads, prefix="mlc-bench-slow-")
    env, workdir, topology = setup.env, setup.workdir, setup.topology
    results: dict[tuple[str, int], dict[str, float]] = {}
    try:
        for name, worker in WORKERS.items():
            with _gateway(env, worker, workdir / f"{worker}.log") as port:
                _measure(port, 20, args.timeout, f"w{worker}")  # warm up
                for count in counts:
                    with Attacker(port, count) as attacker:
                        tag = f"{worker}{count}x"
                        results[(name, count)] = _measure(
                            port, args.requests, args.timeout, tag, args.seconds
                        )
                    results[(name, count)]["reopened"] = attacker.reopened
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(args.url))
        topology.delete(connection.channel())
        connection.close()

    print(
        f"signed invoice.paid deliveries, one at a time, for at least {args.requests} deliveries "
        f"and {args.seconds:g} s per row; stripe-gateway {args.workers} worker(s) x "
        f"{args.threads} threads; stalled = connections that sent a 100,000-byte Content-Length "
        f"and 1 byte (reopened as soon as the server drops one); a delivery unanswered after "
        f"{args.timeout:g} s is a time-out (3 in a row end the row)"
    )
    print(f"{'stalled':>7} | " + " | ".join(f"{name:^42}" for name in WORKERS))
    header = f"{'p50 ms':>8} {'p99 ms':>8} {'ok':>6} {'timeout':>7} {'dropped':>8}"
    print(f"{'':>7} | " + " | ".join(header for _ in WORKERS))
    for count in counts:
        cells = []
        for name in WORKERS:
            r = results[(name, count)]
            cells.append(
                f"{_ms(r['p50_ms'])} {_ms(r['p99_ms'])} {int(r['ok']):>6} "
                f"{int(r['timeouts']):>7} {int(r['reopened']):>8}"
            )
        print(f"{count:>7} | " + " | ".join(cells))
    print("dropped: stalled connections the server closed (and the attacker reopened)")


def _ms(value: float) -> str:
    return f"{'-':>8}" if value != value else f"{value:8.1f}"  # NaN: no delivery succeeded


if __name__ == "__main__":
    main()
