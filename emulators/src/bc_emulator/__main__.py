"""``python -m bc_emulator``: run the emulator as an HTTPS server until interrupted.

Prints the bound URL (``--port 0`` picks a free port) and the CA file path, then serves until
SIGINT/SIGTERM. Secrets may come from the environment (``BC_EMULATOR_CLIENT_SECRET``,
``BC_EMULATOR_ADMIN_TOKEN``) so they stay out of process listings.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from bc_emulator.config import DEFAULT_CLIENT_ID
from bc_emulator.config import DEFAULT_TENANT
from bc_emulator.server import EmulatorServer


def build_parser() -> argparse.ArgumentParser:
    """Command-line options (documented in README.md)."""
    p = argparse.ArgumentParser(prog="python -m bc_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--ca-file", type=Path, help="write the test CA certificate (PEM) here")
    p.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant of the default app")
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="client id of the default app")
    p.add_argument(
        "--client-secret", help="secret of the default app (or BC_EMULATOR_CLIENT_SECRET)"
    )
    p.add_argument("--environment", action="append", help="environment name (repeatable)")
    p.add_argument("--lcy-code", default="USD", help="local currency of seeded companies")
    p.add_argument("--test-mode", action="store_true", help="time-scaled webhooks, http allowed")
    p.add_argument("--token-lifetime", type=int, help="access token lifetime in seconds (3599)")
    p.add_argument("--notification-delay", type=float, help="webhook batching delay seconds (30)")
    p.add_argument("--collection-threshold", type=int, help="notifications before 'collection'")
    p.add_argument("--retry-delays", help="comma-separated webhook retry delays in seconds")
    p.add_argument("--max-retry-attempt", type=int, help="delete subscription after this attempt")
    p.add_argument("--validation-timeout", type=float, help="handshake timeout seconds (5)")
    p.add_argument("--notification-timeout", type=float, help="delivery timeout seconds (30)")
    p.add_argument("--subscription-lifetime", type=float, help="subscription lifetime seconds")
    p.add_argument("--allow-http-notifications", action="store_true", default=None)
    p.add_argument("--notification-ca-file", help="CA bundle for https notification URLs")
    p.add_argument("--rate-limit-requests", type=int, help="requests per window per user (6000)")
    p.add_argument("--rate-limit-window", type=float, help="window seconds (300)")
    p.add_argument("--rate-limit-per-second", type=float, help="extra per-second limit per user")
    p.add_argument("--max-concurrent", type=int, help="concurrent requests per user (5)")
    p.add_argument("--max-queued", type=int, help="queued requests per user (95)")
    p.add_argument("--queue-timeout", type=float, help="seconds a queued request waits (480)")
    p.add_argument("--latency-ms", type=int, help="added latency per API request")
    p.add_argument("--max-batch-operations", type=int, help="operations per $batch (100)")
    p.add_argument(
        "--batch-counts-operations",
        action="store_true",
        default=None,
        help="a $batch counts each inner operation against the rate limits (default: once)",
    )
    p.add_argument("--max-page-size", type=int, help="server page size (20000)")
    p.add_argument(
        "--admin-token", help="require this token on /_emulator (or BC_EMULATOR_ADMIN_TOKEN)"
    )
    p.add_argument("--seed-demo", action="store_true", help="create a demo company with data")
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p


_MAP = {
    "token_lifetime": "token_lifetime_seconds",
    "notification_delay": "notification_delay_seconds",
    "collection_threshold": "collection_threshold",
    "max_retry_attempt": "max_retry_attempt",
    "validation_timeout": "validation_timeout_seconds",
    "notification_timeout": "notification_timeout_seconds",
    "subscription_lifetime": "subscription_lifetime_seconds",
    "allow_http_notifications": "allow_http_notification_url",
    "notification_ca_file": "notification_ca_file",
    "rate_limit_requests": "rate_limit_requests",
    "rate_limit_window": "rate_limit_window_seconds",
    "rate_limit_per_second": "rate_limit_per_second",
    "max_concurrent": "max_concurrent_requests",
    "max_queued": "max_queued_requests",
    "queue_timeout": "queue_timeout_seconds",
    "latency_ms": "latency_ms",
    "max_batch_operations": "max_batch_operations",
    "batch_counts_operations": "batch_counts_operations",
    "max_page_size": "max_page_size",
}


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Translate parsed options into a configuration mapping."""
    secret = args.client_secret or os.environ.get("BC_EMULATOR_CLIENT_SECRET") or "emulator-secret"
    config: dict[str, Any] = {
        "test_mode": args.test_mode,
        "lcy_code": args.lcy_code,
        "clients": [{"tenant": args.tenant, "client_id": args.client_id, "client_secret": secret}],
        "admin_token": args.admin_token or os.environ.get("BC_EMULATOR_ADMIN_TOKEN"),
    }
    if args.environment:
        config["environments"] = args.environment
    if args.retry_delays:
        config["retry_delays_seconds"] = [float(x) for x in args.retry_delays.split(",")]
    for option, name in _MAP.items():
        value = getattr(args, option)
        if value is not None:
            config[name] = value
    return config


def main(argv: list[str] | None = None) -> int:
    """Run until interrupted."""
    args = build_parser().parse_args(argv)
    server = EmulatorServer(
        config_from_args(args),
        ca_file=args.ca_file,
        host=args.host,
        port=args.port,
        quiet=not args.verbose,
    )
    server.start()
    if args.seed_demo:
        from bc_emulator.demo import seed_demo

        seed_demo(server)
    print(f"bc_emulator listening on {server.base_url}", flush=True)
    print(f"CA certificate: {server.ca_file}", flush=True)
    print(
        f"API base: {server.api_base(args.tenant, (args.environment or ['production'])[0])}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
