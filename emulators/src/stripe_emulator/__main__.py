"""`python -m stripe_emulator --port PORT`: run the emulator as a process.

Binds 127.0.0.1 by default; `--port 0` picks a free port. The first line on stdout is
`stripe_emulator listening on http://HOST:PORT` (flushed), so a parent process can read the
URL. Every option maps to an `EmulatorConfig` field; see the package README.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from werkzeug.serving import make_server

from .app import create_app
from .server import QuietRequestHandler
from .state import get_state


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stripe_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=12111, help="port; 0 picks a free one")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        default=None,
        help="accepted secret key (repeatable); default: any sk_test_ key",
    )
    p.add_argument(
        "--revoked-key",
        action="append",
        dest="revoked_keys",
        default=None,
        help="key answered with 401 api_key_expired (repeatable)",
    )
    p.add_argument("--rate-limit", type=float, help="requests/s, 0 disables (default 25)")
    p.add_argument("--search-rate-limit", type=float, help="search requests/s (default 20)")
    p.add_argument(
        "--search-delay",
        type=float,
        dest="search_index_delay",
        help="seconds before writes are searchable (default 1)",
    )
    p.add_argument("--fee-percent", help="default fee percent (default 2.9)")
    p.add_argument("--fee-fixed", type=int, help="default fixed fee in minor units (default 30)")
    p.add_argument("--available-after-days", type=int, help="days until charges are available")
    p.add_argument("--latency-ms", type=int, help="added latency per API request")
    p.add_argument(
        "--time-scale",
        type=float,
        help="real seconds per emulated second for webhook retries (default 1)",
    )
    p.add_argument("--retry-delays", help="comma-separated retry delays in emulated seconds")
    p.add_argument("--duplicate-rate", type=float, help="share of events delivered twice")
    p.add_argument("--drop-rate", type=float, help="share of deliveries lost")
    p.add_argument("--shuffle", action="store_true", default=None, help="deliver out of order")
    p.add_argument("--seed", type=int, help="seed for the delivery knobs")
    p.add_argument("--log-level", default="WARNING", help="Python logging level")
    return p


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The `create_app` mapping for parsed CLI arguments (unset options keep defaults)."""
    names = (
        "api_keys",
        "revoked_keys",
        "rate_limit",
        "search_rate_limit",
        "search_index_delay",
        "available_after_days",
        "latency_ms",
        "time_scale",
        "duplicate_rate",
        "drop_rate",
        "shuffle",
        "seed",
    )
    config: dict[str, Any] = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.retry_delays:
        config["retry_delays"] = [float(x) for x in args.retry_delays.split(",") if x.strip()]
    if args.fee_percent is not None or args.fee_fixed is not None:
        percent = args.fee_percent if args.fee_percent is not None else "2.9"
        fixed = args.fee_fixed if args.fee_fixed is not None else 30
        config["fees"] = {"default": {"percent": percent, "fixed": fixed}}
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    app = create_app(config_from_args(args))
    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    handler = QuietRequestHandler if quiet else None
    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    base_url = f"http://{args.host}:{server.server_port}"
    get_state(app).base_url = base_url
    print(f"stripe_emulator listening on {base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        dispatcher = get_state(app).dispatcher
        if dispatcher is not None:
            dispatcher.stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
