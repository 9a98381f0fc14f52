"""Webhook ingest: the real ``/webhooks/stripe`` against a bare Flask endpoint, same gunicorn.

Run with ``.venv/bin/python bench/webhook_ingest.py`` (RabbitMQ on 127.0.0.1:5672). Two
gunicorn servers are started with the *same* configuration module
(``stripe_gateway.gunicorn_conf``: gthread, the same worker and thread counts, the same JSON
access log), one serving a bare Flask app whose view reads the body and answers 200, the other
serving the real stripe-gateway, which verifies the signature and answers only after the
broker confirmed the publish. A thread-pool load generator (one keep-alive connection per
thread) sends distinct, freshly signed ``invoice.paid`` events to each, in alternating rounds
so both see the same machine conditions, and prints requests per second, p50 and p99 latency
and the ratios. At the end it checks that the broker holds exactly one message per request the
gateway acknowledged. The load generator shares the machine's cores with the servers, so the
absolute numbers are a floor; the ratio is the figure to read.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import time

import pika
from stripe_gateway_setup import SECRET
from stripe_gateway_setup import prepare

WARMUP = 200
BARE_APP = textwrap.dedent(
    '''
    """A bare Flask endpoint: read the body, answer 200 (the benchmark's baseline)."""
    from flask import Flask, request

    app = Flask(__name__)

    @app.post("/webhooks/stripe")
    def webhook():
        request.get_data()
        return {"received": True}
    '''
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(count: int, tag: str) -> list[tuple[bytes, str]]:
    """Distinct signed deliveries (body, Stripe-Signature), like Stripe's."""
    out = []
    now = int(time.time())
    for i in range(count):
        event = {
            "id": f"evt_bench{tag}{i:07d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": now,
            "data": {"object": {"id": f"in_bench{tag}{i:07d}", "object": "invoice", "total": 1000}},
            "livemode": False,
            "type": "invoice.paid",
        }
        body = json.dumps(event, indent=2).encode()
        mac = hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
        out.append((body, f"t={now},v1={mac}"))
    return out


def _load(port: int, deliveries: list[tuple[bytes, str]], concurrency: int) -> dict[str, float]:
    """Send every delivery with ``concurrency`` keep-alive connections; latency stats."""
    chunks = [deliveries[i::concurrency] for i in range(concurrency)]

    def worker(chunk: list[tuple[bytes, str]]) -> tuple[list[float], int]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, errors = [], 0
        for body, signature in chunk:
            started = time.perf_counter()
            connection.request(
                "POST",
                "/webhooks/stripe",
                body=body,
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            )
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            errors += response.status != 200
        connection.close()
        return latencies, errors

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(worker, chunks))
    elapsed = time.perf_counter() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": sum(e for _, e in results),
        "count": len(latencies),
    }


def _wait_ready(port: int, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            if status:  # any answer: it serves (a probe of the webhook itself would count as
                return  # a refused request against the gateway's rate limit)
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("MLC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    parser.add_argument("--requests", type=int, default=2000, help="per target and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    setup = prepare(args.url, workers=args.workers, threads=args.threads, prefix="mlc-bench-")
    env, workdir, topology = setup.env, setup.workdir, setup.topology
    (workdir / "bare_app.py").write_text(BARE_APP)
    env["PYTHONPATH"] = str(workdir)
    conf = "python:stripe_gateway.gunicorn_conf"
    targets = {
        "bare Flask endpoint": ("bare_app:app", _free_port()),
        "stripe-gateway /webhooks/stripe": ("stripe_gateway.wsgi:app", _free_port()),
    }
    processes = []
    log = (workdir / "servers.log").open("wb")
    try:
        for app, port in targets.values():
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", conf, app],
                    env={**env, "MLC_PORT": str(port)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for _, port in targets.values():
            _wait_ready(port, "/healthz")
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        warmups = {  # imports, publisher connections, first requests of each thread
            name: _load(port, _events(WARMUP, f"w{port}"), args.concurrency)
            for name, (_, port) in targets.items()
        }
        for round_no in range(args.rounds):
            for name, (_, port) in targets.items():
                tag = f"r{round_no}p{port}"
                results[name].append(_load(port, _events(args.requests, tag), args.concurrency))
        connection = pika.BlockingConnection(pika.URLParameters(args.url))
        queued = connection.channel().queue_declare(topology.queue, passive=True)
        queued_count = int(queued.method.message_count)
        connection.close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        log.close()
        connection = pika.BlockingConnection(pika.URLParameters(args.url))
        topology.delete(connection.channel())
        connection.close()

    print(
        f"{args.rounds} round(s) x {args.requests} signed deliveries per target, "
        f"{args.concurrency} client threads; gunicorn edge worker, {args.workers} worker(s) "
        f"x {args.threads} threads (same config for both)"
    )
    print(f"{'target':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8}")
    summary = {}
    for name, runs in results.items():
        rps = statistics.mean(r["rps"] for r in runs)
        p50 = statistics.mean(r["p50_ms"] for r in runs)
        p99 = statistics.mean(r["p99_ms"] for r in runs)
        errors = int(sum(r["errors"] for r in runs))
        summary[name] = (rps, p50, p99)
        print(f"{name:34} {rps:9.0f} {p50:8.2f} {p99:8.2f} {errors:8d}")
    bare, real = summary["bare Flask endpoint"], summary["stripe-gateway /webhooks/stripe"]
    print(
        f"ratio gateway/bare: throughput {real[0] / bare[0]:.2f}x, "
        f"p50 {real[1] / bare[1]:.2f}x, p99 {real[2] / bare[2]:.2f}x"
    )
    gateway = "stripe-gateway /webhooks/stripe"
    acknowledged = sum(int(r["count"] - r["errors"]) for r in [warmups[gateway], *results[gateway]])
    print(f"broker check: {queued_count} messages queued for {acknowledged} gateway deliveries")


if __name__ == "__main__":
    main()
