"""The ``bc-gateway`` command: the HTTP service and the jobs Kubernetes CronJobs run.

- ``serve``: the HTTP service under gunicorn (webhooks, command API, health).
- ``renew-subscriptions``: create missing BC webhook subscriptions, renew those about to expire.
- ``poll-invoices``: publish ``bc.invoice.observed`` for every Open invoice changed in a window,
  backfilling anything a webhook missed (same message ids as the webhook's collection path). With
  ``--cursor FILE`` it saves its position after every page, and the same command run again (or
  ``--resume``) continues an interrupted run; progress goes to stderr (a live display at a
  terminal, a log line every few pages otherwise), the final count to stdout.
- ``ping``: check token, company and permissions against the configured BC, one line per check.

Exit codes: 0 success, 1 the job failed (BC, Entra or the broker refused or was unreachable),
2 configuration or secrets are incomplete. Output is for people; logs go to stderr as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.token import TokenError
from bc_gateway.bootstrap import Dependencies
from bc_gateway.bootstrap import build_dependencies
from bc_gateway.initial_load import BEGINNING
from bc_gateway.initial_load import OPEN_ONLY
from bc_gateway.initial_load import preview
from bc_gateway.invoice_poll import STATUSES
from bc_gateway.invoice_poll import CursorMismatch
from bc_gateway.invoice_poll import InvoicePollState
from bc_gateway.invoice_poll import PollStalled
from bc_gateway.invoice_poll import poll_invoices
from bc_gateway.invoice_poll import start
from bc_gateway.notifications import parse_timestamp
from bc_gateway.ping import ping
from bc_gateway.settings import OPTIONAL_SECRETS
from bc_gateway.settings import REQUIRED_SECRETS
from bc_gateway.settings import SERVICE
from bc_gateway.settings import Settings
from bc_gateway.subscriptions import ENTITIES
from bc_gateway.subscriptions import renew_subscriptions
from mlconnector.bus import PublishError
from mlconnector.config import ConfigError
from mlconnector.logging import configure_logging
from mlconnector.logging import new_correlation_id
from mlconnector.metrics_push import record_poll_success
from mlconnector.poll_progress import PollProgress
from mlconnector.poll_progress import add_progress_arguments
from mlconnector.poll_progress import resolve_mode
from mlconnector.redaction import redact
from mlconnector.runtime import MissingSecrets
from mlconnector.runtime import load_service_secrets
from mlconnector.runtime import preflight
from mlconnector.secrets import SecretStoreError
from mlconnector.secrets import build_secret_store
from mlconnector.serving import serve
from mlconnector.state_file import StateFileError
from mlconnector.state_file import add_cursor_arguments
from mlconnector.state_file import read_state
from mlconnector.state_file import write_state

FAILED = 1
MISCONFIGURED = 2


def _iso_time(raw: str) -> dt.datetime:
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {raw!r}") from None


def _minutes(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 60 * 24 * 366:
        raise argparse.ArgumentTypeError("expected minutes between 0 and a year")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=SERVICE, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP service (webhooks, commands, health)")
    renew = commands.add_parser(
        "renew-subscriptions",
        help="create missing BC webhook subscriptions and renew those expiring soon",
        description="Subscribe MLC_BC_NOTIFICATION_URL to the company's sales invoices and "
        "customers; renew (PATCH with If-Match) subscriptions expiring within "
        "MLC_BC_RENEW_MARGIN_HOURS (default 24). Run daily: BC drops them after 3 days.",
    )
    renew.add_argument(
        "--entity",
        action="append",
        choices=ENTITIES,
        help="only this entity set (repeatable; default: all)",
    )
    poll = commands.add_parser(
        "poll-invoices",
        help="publish bc.invoice.observed for every Open invoice changed in a window",
        description="Page through every Open sales invoice modified after the start of the "
        "window, in change order, and publish one bc.invoice.observed message each (confirmed "
        "by the broker, page by page). With a cursor file an interrupted run resumes where it "
        "stopped.",
    )
    window = poll.add_mutually_exclusive_group()
    window.add_argument("--since-minutes", type=_minutes, help="window: the last N minutes")
    window.add_argument("--since", type=_iso_time, help="window: since this ISO 8601 time")
    add_cursor_arguments(poll, setting="MLC_BC_POLL_CURSOR", window="--since/--since-minutes")
    add_progress_arguments(poll)
    load = commands.add_parser(
        "initial-load",
        help="the first connection: preview, then push every Open invoice to Stripe",
        description="With --preview: count the Open sales invoices, their customers and open "
        "totals per currency, and list those the push would refuse and why. Without: publish "
        "bc.invoice.observed for every Open invoice (the reconciler pushes each once), with "
        "progress; with a cursor file an interrupted load resumes where it stopped.",
    )
    load.add_argument("--preview", action="store_true", help="count and check; push nothing")
    add_cursor_arguments(load, setting="no setting", window="no window")
    add_progress_arguments(load)
    commands.add_parser(
        "ping",
        help="check the token, the company and the permissions against BC",
        description="Acquire a token, read the company and one row of each entity set the "
        "connector uses; say clearly what is wrong (tenant, secret, app registration in BC, "
        "permissions, company). Exit code 1 when any check fails.",
    )
    return parser


def _check() -> None:
    settings = Settings.from_env()
    store = build_secret_store(settings.common.secrets)
    load_service_secrets(store, settings.secrets_path, REQUIRED_SECRETS, OPTIONAL_SECRETS)


def _renew(deps: Dependencies, args: argparse.Namespace) -> int:
    settings = deps.settings
    url = settings.require_notification_url()
    assert deps.bc is not None
    outcomes, now = renew_subscriptions(
        deps.bc,
        notification_url=url,
        client_state=deps.client_states.current(),
        margin=dt.timedelta(seconds=settings.renew_margin_s),
        entities=tuple(args.entity or ENTITIES),
    )
    for outcome in outcomes:
        print(outcome.describe(now))
    return 0


def _initial_load(deps: Dependencies, args: argparse.Namespace) -> int:
    assert deps.bc is not None
    if args.preview:
        for line in preview(deps.bc, deps.lcy).lines():
            print(line)
        return 0
    return _poll(deps, args, name="initial-load", statuses=OPEN_ONLY, since=BEGINNING)


def _poll(
    deps: Dependencies,
    args: argparse.Namespace,
    *,
    name: str = "poll-invoices",
    statuses: tuple[str, ...] = STATUSES,
    since: dt.datetime | None = None,
) -> int:
    assert deps.bc is not None
    # The poll's cursor setting is the poll's: a load keeps its own file (``--cursor``).
    cursor: Path | None = args.cursor or (
        deps.settings.poll_cursor if name == "poll-invoices" else None
    )
    try:
        data = read_state(cursor) if cursor is not None else None
        stored = InvoicePollState.from_json(data) if data is not None else None
    except (StateFileError, CursorMismatch) as exc:
        print(f"{SERVICE} {name}: cursor {cursor}: {exc}", file=sys.stderr)
        return MISCONFIGURED
    if args.resume:
        if stored is None:
            where = cursor or "no cursor file (--cursor FILE or MLC_BC_POLL_CURSOR)"
            print(f"{SERVICE} {name}: nothing to resume in {where}", file=sys.stderr)
            return MISCONFIGURED
        if stored.company_id != deps.bc.company_id.lower():
            print(
                f"{SERVICE} {name}: the cursor {cursor} is a run for company "
                f"{stored.company_id}, not the configured {deps.bc.company_id}",
                file=sys.stderr,
            )
            return MISCONFIGURED
        state, resumed = stored, not stored.finished
    else:
        if since is None:
            since = args.since or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=args.since_minutes)
        state, resumed = start(stored, deps.bc.company_id, since, statuses)
    before = state.published if resumed else 0

    def save(current: InvoicePollState) -> None:
        if cursor is not None:
            write_state(cursor, current.to_json())

    if not state.finished:
        try:
            save(state)  # before any work: an unwritable cursor is a start-up error
        except StateFileError as exc:
            print(f"{SERVICE} {name}: {exc}", file=sys.stderr)
            return MISCONFIGURED
        progress = PollProgress(
            resolve_mode(args.progress), every_pages=args.progress_every, already=before
        )
        try:
            with progress:
                poll_invoices(
                    deps.bc,
                    deps.publish,
                    state,
                    correlation_id=new_correlation_id(),
                    page_size=deps.settings.require_bc().page_size,
                    save=save,
                    progress=progress,
                )
        except (StateFileError, PollStalled) as exc:
            print(f"{SERVICE} {name}: FAILED: {exc}", file=sys.stderr)
            return FAILED
    which = " and ".join(statuses)
    print(
        f"published {state.published} bc.invoice.observed message(s) for {which} invoices "
        f"changed since {state.since.isoformat(timespec='seconds')}"
    )
    if before:
        print(f"  resumed from the cursor: {before} published by earlier runs")
    if cursor is not None:
        print(f"cursor {cursor}: done")
    if name == "poll-invoices":
        record_poll_success("bc")  # to MLC_METRICS_PUSHGATEWAY, when set (docs/operations.md)
    return 0


def _check_poll_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A window, or ``--resume`` (whose window is the cursor's), but not both."""
    window_given = args.since is not None or args.since_minutes is not None
    if args.resume and window_given:
        parser.error("--resume continues the cursor's window: leave out --since/--since-minutes")
    if not args.resume and not window_given:
        parser.error("one of the arguments --since-minutes --since is required (or --resume)")


def _ping(deps: Dependencies, args: argparse.Namespace) -> int:
    bc_settings = deps.settings.require_bc()
    assert deps.tokens is not None
    assert deps.bc is not None
    print(
        f"{SERVICE} ping: tenant {bc_settings.tenant_id}, environment "
        f"{bc_settings.environment}, company {bc_settings.company_id}"
    )
    checks = ping(bc_settings, deps.tokens, deps.bc)
    for check in checks:
        print(f"  {check}")
    return 0 if all(check.ok for check in checks) else FAILED


JOBS: dict[str, Callable[[Dependencies, argparse.Namespace], int]] = {
    "renew-subscriptions": _renew,
    "poll-invoices": _poll,
    "initial-load": _initial_load,
    "ping": _ping,
}


def run_job(name: str, args: argparse.Namespace) -> int:
    """Run one job with its dependencies; every failure becomes a message and an exit code."""
    try:
        settings = Settings.from_env()
        configure_logging(SERVICE, settings.common.log_level)
        settings.require_bc()
        deps = build_dependencies(settings)
    except (ConfigError, MissingSecrets, SecretStoreError, ValueError) as exc:
        print(f"{SERVICE} {name}: cannot start: {redact(str(exc))}", file=sys.stderr)
        return MISCONFIGURED
    try:
        return JOBS[name](deps, args)
    except ConfigError as exc:
        print(f"{SERVICE} {name}: {redact(str(exc))}", file=sys.stderr)
        return MISCONFIGURED
    except (BCError, TokenError, PublishError, SecretStoreError) as exc:
        print(f"{SERVICE} {name}: FAILED: {redact(str(exc))}", file=sys.stderr)
        return FAILED
    finally:
        deps.publisher.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "poll-invoices":
        _check_poll_args(parser, args)
    if args.command == "serve":
        if not preflight(SERVICE, _check):
            return MISCONFIGURED
        serve("bc_gateway.wsgi:app", "bc_gateway.gunicorn_conf")
        return 0
    return run_job(args.command, args)


if __name__ == "__main__":
    sys.exit(main())
