"""The ``reconciler`` command: ``serve`` (API), ``consume`` (bus consumer), ``migrate`` (DB).

Operators also get ``records list|show|replay`` and ``payouts show`` (see ``operator_cli``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from reconciler import SERVICE
from reconciler import heartbeat

if TYPE_CHECKING:
    from reconciler.settings import Settings

# Heavy modules (broker, database, web) are imported by the commands that need them, so that
# the liveness probe (`heartbeat-check`) starts in milliseconds.

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reconciler", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API (records, audit, replay, health)")
    commands.add_parser("consume", help="consume the bus until SIGTERM")
    alive = commands.add_parser(
        "heartbeat-check", help="exit 0 if the consumer touched its heartbeat file recently"
    )
    alive.add_argument("--max-age", type=float, default=60.0, help="seconds (default: 60)")
    drift = commands.add_parser(
        "drift-check",
        help="compare each Stripe clearing account in BC with Stripe (the daily CronJob)",
    )
    drift.add_argument(
        "--lookback-days", type=int, default=35, help="Stripe history read (default: 35)"
    )
    drift.add_argument("--actor", default="drift-check", help="who runs it, for the audit trail")
    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    from reconciler import operator_cli

    operator_cli.add_commands(commands)
    return parser


def _consume(settings: Settings) -> int:
    import threading

    from mlconnector.config import ConfigError
    from mlconnector.metrics_export import ExporterSettings
    from mlconnector.metrics_export import start_exporter
    from reconciler.bootstrap import build_dependencies
    from reconciler.consumer import build_poster
    from reconciler.consumer import build_runner

    try:
        exporter = ExporterSettings.from_env()
    except ConfigError as exc:
        print(f"{SERVICE}: cannot start: {exc}", file=sys.stderr)
        return 2
    deps = build_dependencies(settings)
    runner = build_runner(settings, deps)
    runner.install_signal_handlers()
    # The consumer serves no HTTP: its counters go out on MLC_METRICS_PORT (default 9102).
    start_exporter(exporter)
    stop_posting = threading.Event()
    poster = build_poster(settings, deps).start(stop_posting)
    logger.info("reconciler consumer starting")
    try:
        return runner.run()
    finally:
        stop_posting.set()
        if poster is not None:
            poster.join(timeout=settings.gateway_timeout_s)


def _drift_check(settings: Settings, lookback_days: int, actor: str) -> int:
    """Run the check, print each currency's figures; 0 when it ran, whatever it found.

    An unexplained difference is recorded as an item for a person and exported as
    ``mlc_clearing_drift`` (alert ``MLCClearingDrift``); failing the Job would only retry it.
    """
    from reconciler.bootstrap import build_dependencies
    from reconciler.drift import run_drift_check

    deps = build_dependencies(settings)
    results = run_drift_check(
        deps.handler_deps, deps.session_factory, lookback_days=lookback_days, actor=actor
    )
    for drift in results:
        figures = drift.figures()
        state = "explained" if not drift.difference else "UNEXPLAINED"
        print(f"{drift.currency.upper()}: {state}, difference {figures['difference']}")
        for name, value in figures.items():
            if name != "difference":
                print(f"  {name:<24} {value}")
        print(f"  BC side: {drift.bc_source}")
    return 0


def _migrate(settings: Settings, revision: str) -> int:
    from reconciler.migrate import upgrade

    upgrade(settings.database_url, revision)
    logger.info("database upgraded to %s", revision)
    return 0


def _check() -> None:
    from mlconnector.runtime import load_service_secrets
    from mlconnector.secrets import build_secret_store
    from reconciler.settings import REQUIRED_SECRETS
    from reconciler.settings import Settings

    settings = Settings.from_env()
    store = build_secret_store(settings.common.secrets)
    load_service_secrets(store, settings.secrets_path, REQUIRED_SECRETS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "heartbeat-check":
        return heartbeat.check(args.max_age)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from mlconnector.config import ConfigError
    from mlconnector.logging import configure_logging
    from mlconnector.runtime import preflight
    from mlconnector.serving import serve
    from reconciler import operator_cli
    from reconciler.settings import Settings

    if args.command != "migrate" and not preflight(SERVICE, _check):
        return 2
    if args.command == "serve":
        serve("reconciler.wsgi:app", "reconciler.gunicorn_conf")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"{SERVICE}: cannot start: {exc}", file=sys.stderr)
        return 2
    configure_logging(SERVICE, settings.common.log_level)
    if args.command == "consume":
        return _consume(settings)
    if args.command in ("records", "payouts"):
        return operator_cli.run(args, settings)
    if args.command == "drift-check":
        return _drift_check(settings, args.lookback_days, args.actor)
    return _migrate(settings, args.revision)
