"""The ``stripe-gateway`` command: serve the HTTP service, or run one job (CronJob-friendly).

Commands:
  serve              run the HTTP service (webhooks, commands, health) under gunicorn
  poll               publish the handled events of a time window, as webhooks would
  register-webhook   create the Stripe webhook endpoint and store its signing secret
  ping               check that Stripe is reachable with the configured key

Exit codes: 0 success; 1 the job failed (poll: a message was not confirmed, or the cursor
could not be saved; register-webhook: refused; any command: a Stripe call failed); 2 cannot
start (configuration, secrets or an unreadable cursor file, printed on stderr); ping also uses
3 (key rejected), 4 (key lacks a permission), 5 (Stripe unreachable).

A long ``poll --since ISO --until ISO --cursor FILE`` (a backfill) saves its position in FILE
after every page; run the same command again after an interruption (or ``poll --resume --cursor
FILE``) and it continues where it stopped. Progress goes to stderr: a live display at a
terminal, a log line every few pages otherwise; the final count goes to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from pathlib import Path

from mlconnector.logging import configure_logging
from mlconnector.logging import new_correlation_id
from mlconnector.metrics_push import record_poll_success
from mlconnector.poll_progress import add_progress_arguments
from mlconnector.redaction import redact
from mlconnector.runtime import build_publisher
from mlconnector.runtime import load_service_secrets
from mlconnector.runtime import preflight
from mlconnector.secrets import build_secret_store
from mlconnector.serving import serve
from mlconnector.state_file import add_cursor_arguments
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.bootstrap import build_stripe_client
from stripe_gateway.bootstrap import load_secrets
from stripe_gateway.settings import REQUIRED_SECRETS
from stripe_gateway.settings import SERVICE
from stripe_gateway.settings import Settings

EXIT_FAILED = 1

logger = logging.getLogger(__name__)


def _timestamp(raw: str) -> int:
    """An ISO 8601 time; without an offset it is taken as UTC."""
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {raw!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def _minutes(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of minutes")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=SERVICE,
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP service (webhooks, commands, health)")

    poll = commands.add_parser(
        "poll",
        help="publish the handled events of a time window, as webhooks would",
        description="Publish every handled Stripe event created in a window (message id = "
        "event id, so the reconciler drops what it already has). Past Stripe's 30-day event "
        "retention, objects are listed instead and published as poll:<type>:<id> messages.",
    )
    when = poll.add_mutually_exclusive_group()
    when.add_argument("--since-minutes", type=_minutes, metavar="N", help="the last N minutes")
    when.add_argument("--since", type=_timestamp, metavar="ISO", help="window start (ISO 8601)")
    poll.add_argument(
        "--until", type=_timestamp, metavar="ISO", help="window end, exclusive (default: now)"
    )
    add_cursor_arguments(
        poll, setting="MLC_STRIPE_POLL_CURSOR", window="--since/--since-minutes/--until"
    )
    add_progress_arguments(poll)

    register = commands.add_parser(
        "register-webhook",
        help="create the Stripe webhook endpoint and store its signing secret",
        description="Create a webhook endpoint for URL (API version pinned, handled events "
        "only) and store its signing secret at the gateway's secret path as webhook_secret "
        "(the old one is kept as webhook_secret_previous). Prints the endpoint id, never "
        "the secret.",
    )
    register.add_argument("--url", required=True, help="public https URL of /webhooks/stripe")
    register.add_argument(
        "--force", action="store_true", help="create it even if one exists for this URL"
    )

    commands.add_parser(
        "ping",
        help="check that Stripe is reachable with the configured key",
        description="Check the API key (valid? test or live?), the account, and read access "
        "to everything the gateway uses. Exit 0 ok, 3 key rejected, 4 permission missing, "
        "5 Stripe unreachable.",
    )
    return parser


JOB_SECRETS = ("api_key",)


def _check(required: tuple[str, ...] = REQUIRED_SECRETS) -> None:
    settings = Settings.from_env()
    store = build_secret_store(settings.common.secrets)
    load_service_secrets(store, settings.secrets_path, required)


def _check_poll_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A window, or ``--resume`` (whose window is the cursor's), but not both."""
    window_given = args.since is not None or args.since_minutes is not None
    if args.resume and (window_given or args.until is not None):
        parser.error("--resume continues the cursor's window: leave out --since/--until")
    if not args.resume and not window_given:
        parser.error("one of the arguments --since-minutes --since is required (or --resume)")


def _poll(args: argparse.Namespace, settings: Settings) -> int:
    from mlconnector.poll_progress import PollProgress
    from mlconnector.poll_progress import resolve_mode
    from mlconnector.state_file import StateFileError
    from mlconnector.state_file import read_state
    from mlconnector.state_file import write_state
    from stripe_gateway.poll_state import CursorMismatch
    from stripe_gateway.poll_state import PollState
    from stripe_gateway.poll_state import replan
    from stripe_gateway.poll_state import start
    from stripe_gateway.polling import Window
    from stripe_gateway.polling import poll

    now = int(time.time())
    cursor: Path | None = args.cursor or settings.poll_cursor
    try:
        data = read_state(cursor) if cursor is not None else None
        stored = PollState.from_json(data) if data is not None else None
    except (StateFileError, CursorMismatch) as exc:
        print(f"{SERVICE} poll: cursor {cursor}: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        if stored is None:
            where = cursor or "no cursor file (--cursor FILE or MLC_STRIPE_POLL_CURSOR)"
            print(f"{SERVICE} poll: nothing to resume in {where}", file=sys.stderr)
            return 2
        if stored.finished:
            print(f"cursor {cursor}: the run of {stored.window.describe()} completed")
            print(f"total: {sum(stored.published().values())} published, 0 failed")
            return 0
        state, resumed = replan(stored, now), True
    else:
        # Default end: the current second included (Stripe's timestamps are whole seconds).
        until = args.until if args.until is not None else now + 1
        since = args.since if args.since is not None else until - 60 * args.since_minutes
        if since >= until:
            print(f"{SERVICE} poll: the window is empty (since >= until)", file=sys.stderr)
            return 2
        state, resumed = start(stored, Window(since, until), now)

    def save(current: PollState) -> None:
        if cursor is not None:
            write_state(cursor, current.to_json())

    try:
        save(state)  # before any work: an unwritable cursor is a start-up error
    except StateFileError as exc:
        print(f"{SERVICE} poll: {exc}", file=sys.stderr)
        return 2
    if resumed:
        logger.info("resuming the run of %s from cursor %s", state.window.describe(), cursor)
    store = build_secret_store(settings.common.secrets)
    client = build_stripe_client(settings, load_secrets(settings, store, JOB_SECRETS)["api_key"])
    publisher = build_publisher(settings.common, f"{SERVICE}-poll")
    progress = PollProgress(
        resolve_mode(args.progress),
        every_pages=args.progress_every,
        already=sum(state.published().values()),
    )
    try:
        with progress:
            summary = poll(
                client,
                publisher,
                state.window,
                now=now,
                correlation_id=new_correlation_id(),
                state=state,
                save=save,
                progress=progress,
            )
    except StateFileError as exc:
        print(f"{SERVICE} poll: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        publisher.close()
    print("\n".join(summary.lines()))
    if cursor is not None:
        kept = "done" if state.finished else "kept (run the same command again to resume)"
        print(f"cursor {cursor}: {kept}")
    if summary.failed:
        return EXIT_FAILED
    if args.until is None and not args.resume:
        # A window reaching now: the freshness the alert watches (a backfill of the past is not).
        record_poll_success("stripe")
    return 0


def _register(args: argparse.Namespace, settings: Settings) -> int:
    from stripe_gateway.webhook_registration import AlreadyRegistered
    from stripe_gateway.webhook_registration import SecretNotStored
    from stripe_gateway.webhook_registration import register_webhook

    store = build_secret_store(settings.common.secrets)
    client = build_stripe_client(settings, load_secrets(settings, store, JOB_SECRETS)["api_key"])
    try:
        done = register_webhook(client, store, settings.secrets_path, args.url, force=args.force)
    except (AlreadyRegistered, SecretNotStored) as exc:
        print(f"{SERVICE} register-webhook: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"registered webhook endpoint {done.endpoint_id} for {done.url}")
    print(f"  api version {done.api_version}; events: {', '.join(done.events)}")
    kept = " (the previous one kept as webhook_secret_previous)" if done.kept_previous else ""
    print(f"  signing secret stored at {settings.secrets_path} as webhook_secret{kept}")
    return 0


def _ping(settings: Settings) -> int:
    from stripe_gateway.ping import ping

    store = build_secret_store(settings.common.secrets)
    client = build_stripe_client(settings, load_secrets(settings, store, JOB_SECRETS)["api_key"])
    report = ping(client)
    print("\n".join(report.lines))
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "poll":
        _check_poll_args(parser, args)
    # Only `serve` verifies webhooks; the jobs need the API key alone, and `register-webhook`
    # is how the signing secret gets stored on a first install.
    required = REQUIRED_SECRETS if args.command == "serve" else JOB_SECRETS
    if not preflight(SERVICE, lambda: _check(required)):
        return 2
    if args.command == "serve":
        serve("stripe_gateway.wsgi:app", "stripe_gateway.gunicorn_conf")
        return 0
    settings = Settings.from_env()
    configure_logging(SERVICE, settings.common.log_level)
    try:
        if args.command == "poll":
            return _poll(args, settings)
        if args.command == "register-webhook":
            return _register(args, settings)
        return _ping(settings)
    except StripeCallError as exc:
        # One clear line instead of a traceback (which would bypass log redaction).
        print(f"{SERVICE} {args.command}: Stripe call failed: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
