"""Operator subcommands of ``reconciler``: ``records list|show|replay`` and ``payouts show``.

It answers the same questions as the HTTP API, with the same code (``queries``, ``replay``), but
talks to the database and the broker directly. It is meant to be run by a person inside the
cluster (``kubectl exec`` into a reconciler pod), where the database URL, broker URL and secrets
are already in the environment, so no API token has to be handed around.

Output is a table or a story for people by default, and the API's JSON shapes with ``--json``.
Exit codes: 0 done, 1 no such record or payout / nothing to replay, 2 invalid arguments,
3 the broker did not confirm a replay (the record keeps its state; try again).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from mlconnector.redaction import redact
from reconciler import SERVICE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from sqlalchemy.orm import sessionmaker

    from reconciler.models import AuditEvent
    from reconciler.models import SyncRecord
    from reconciler.queries import RecordFilter
    from reconciler.settings import Settings

# The database, bus and schema modules are imported by the commands that use them, not here:
# ``cli`` builds its parser from this module for every command, including the consumer's
# frequent liveness probe (``heartbeat-check``), which must stay quick to start.

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_BUS = 3

Subparsers = argparse._SubParsersAction  # argparse exposes no public name for it


def add_commands(commands: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``records`` and ``payouts`` to the ``reconciler`` command's subcommands."""
    records = commands.add_parser("records", help="list, show and replay sync records")
    actions = records.add_subparsers(dest="records_command", required=True)
    listing = actions.add_parser("list", help="records, newest first")
    listing.add_argument("--state", help="pending, succeeded, failed, unmatched or skipped")
    listing.add_argument("--kind", help="invoice, customer, payment, refund or payout")
    listing.add_argument("--bc-ref", help="BC id or document number")
    listing.add_argument("--stripe-ref", help="Stripe object id")
    listing.add_argument("--since", help="created at or after (ISO date or datetime)")
    listing.add_argument("--until", help="created before (ISO date or datetime)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (max 200)")
    listing.add_argument("--cursor", type=int, help="continue after this record id")
    show = actions.add_parser("show", help="one record with its audit trail and postings")
    show.add_argument("record_id", type=int)
    replay = actions.add_parser("replay", help="publish a record's source message again")
    replay.add_argument("record_id", type=int)
    replay.add_argument("--actor", required=True, help="who is replaying (e.g. your email)")
    replay.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    payouts = commands.add_parser("payouts", help="show how a payout was reconciled")
    payout_actions = payouts.add_subparsers(dest="payouts_command", required=True)
    payout = payout_actions.add_parser("show", help="one payout with its audit trail")
    payout.add_argument("stripe_payout_id")
    for parser in (listing, show, replay, payout):
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run an operator subcommand parsed by ``add_commands``; returns the exit code."""
    from marshmallow import ValidationError

    try:
        if args.command == "payouts":
            return _show_payout(args, settings)
        if args.records_command == "list":
            return _list(args, settings)
        if args.records_command == "show":
            return _show(args, settings)
        return _replay(args, settings)
    except ValidationError as exc:
        _fail(f"invalid arguments: {json.dumps(exc.messages, sort_keys=True)}")
        return EXIT_USAGE


@contextlib.contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    from mlconnector.db import make_engine
    from mlconnector.db import make_session_factory

    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from reconciler.api.schemas import RecordQuerySchema
    from reconciler.api.schemas import RecordSummarySchema
    from reconciler.queries import list_records

    options = {
        "state": args.state,
        "kind": args.kind,
        "bc_ref": args.bc_ref,
        "stripe_ref": args.stripe_ref,
        "since": args.since,
        "until": args.until,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    where: RecordFilter = RecordQuerySchema().load(
        {k: v for k, v in options.items() if v is not None}
    )
    with _sessions(settings) as sessions, sessions() as session:
        page = list_records(session, where)
        if args.json:
            data = RecordSummarySchema(many=True).dump(page.items)
            _print_json({"data": data, "next_cursor": page.next_cursor})
        else:
            _print_table(page.items)
            if page.next_cursor is not None:
                print(f"more: --cursor {page.next_cursor}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from reconciler.api.schemas import RecordDetailSchema
    from reconciler.api.schemas import exact_amount
    from reconciler.queries import get_record

    with _sessions(settings) as sessions, sessions() as session:
        detail = get_record(session, args.record_id)
        if detail is None:
            _fail(f"record {args.record_id} does not exist")
            return EXIT_NOT_FOUND
        if args.json:
            _print_json(RecordDetailSchema().dump(detail))
            return 0
        _print_record(detail.record)
        _print_story(detail.audit)
        if detail.postings:
            print("\npostings")
        for p in detail.postings:
            print(
                f"  {p.stripe_id}  {p.kind}  {p.state}  {exact_amount(p.amount, p.currency)} "
                f"{p.currency.upper()}  BC line {p.bc_line_id or '-'} "
                f"(journal {p.bc_journal_id or '-'}, invoice {p.bc_invoice_id or '-'})"
            )
        if detail.dead_letters:
            print("\ndead letters (parked messages, kept whole)")
        for d in detail.dead_letters:
            print(
                f"  #{d.id}  {d.reason}  from {d.queue or '-'}  at {_when(d.dead_lettered_at)}  "
                f"message {d.message_id or '-'}  {len(d.body)} bytes"
            )
            print("    " + redact(bytes(d.body).decode("utf-8", "replace"))[:2000])
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from mlconnector.bus import PublishError
    from mlconnector.runtime import build_publisher
    from reconciler.api.schemas import ReplayRequestSchema
    from reconciler.api.schemas import ReplayResultSchema
    from reconciler.replay import ReplayError
    from reconciler.replay import replay_record

    command = ReplayRequestSchema().load({"actor": args.actor, "reason": args.reason})
    publisher = build_publisher(settings.common, f"{SERVICE}-operator")
    try:
        with _sessions(settings) as sessions:
            result = replay_record(
                sessions,
                publisher,
                args.record_id,
                actor=command["actor"],
                reason=command["reason"],
            )
    except ReplayError as exc:
        _fail(str(exc))
        return EXIT_NOT_FOUND
    except PublishError as exc:
        _fail(f"the message bus did not confirm the replay; the record keeps its state: {exc}")
        return EXIT_BUS
    finally:
        publisher.close()
    if args.json:
        _print_json(ReplayResultSchema().dump(result))
        return 0
    print(
        f"record {result.record_id} replayed as message {result.message_id}; "
        f"state pending (was {result.previous_state})"
    )
    if result.note:
        print(f"note: {result.note}")
    return 0


def _show_payout(args: argparse.Namespace, settings: Settings) -> int:
    from reconciler.api.schemas import PayoutDetailSchema
    from reconciler.api.schemas import decimal_amount
    from reconciler.queries import get_payout

    with _sessions(settings) as sessions, sessions() as session:
        detail = get_payout(session, args.stripe_payout_id)
        if detail is None:
            _fail(f"payout {args.stripe_payout_id} is not known")
            return EXIT_NOT_FOUND
        if args.json:
            _print_json(PayoutDetailSchema().dump(detail))
            return 0
        payout = detail.payout
        if payout is None:
            print(f"payout {args.stripe_payout_id}: not reconciled yet")
        else:
            currency = payout.currency.upper()
            print(f"payout {payout.stripe_payout_id}  {payout.state}")
            _print_fields(
                [
                    ("net", f"{decimal_amount(payout.net_minor, payout.currency)} {currency}"),
                    ("fees", f"{decimal_amount(payout.fee_minor, payout.currency)} {currency}"),
                    ("fee line", payout.fee_line_id or "-"),
                    ("bank line", payout.bank_line_id or "-"),
                    ("arrival", payout.arrival_date or "-"),
                    ("unmatched", len(payout.unmatched)),
                ]
            )
            for item in payout.unmatched:
                print(f"    {item.get('balance_transaction')}: {item.get('reason')}")
        if detail.record is not None:
            print(f"\nrecord {detail.record.id}  {detail.record.state}")
        _print_story(detail.audit)
    return 0


# -- output -----------------------------------------------------------------------------------


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _amount(record: SyncRecord) -> str:
    from reconciler.api.schemas import decimal_amount

    shown = decimal_amount(record.amount_minor, record.currency)
    return f"{shown} {(record.currency or '').upper()}" if shown is not None else "-"


def _print_table(records: Sequence[SyncRecord]) -> None:
    rows = [
        (
            str(r.id),
            _when(r.created_at),
            str(r.kind),
            str(r.state),
            r.bc_number or r.bc_ref or "-",
            r.stripe_ref or "-",
            _amount(r),
            str(r.attempts),
        )
        for r in records
    ]
    header = ("ID", "CREATED (UTC)", "KIND", "STATE", "BC", "STRIPE", "AMOUNT", "TRIES")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if not rows:
        print("(no records)")


def _print_record(r: SyncRecord) -> None:
    print(f"record {r.id}  {r.kind}  {r.state}")
    fields: list[tuple[str, Any]] = [
        ("business key", r.business_key),
        ("BC", f"company {r.bc_company_id or '-'}, id {r.bc_ref or '-'}, no. {r.bc_number or '-'}"),
        ("Stripe", r.stripe_ref or "-"),
        ("amount", f"{_amount(r)} ({r.amount_minor} minor units)" if r.currency else "-"),
        ("attempts", r.attempts),
        ("last error", r.last_error or "-"),
        ("flags", json.dumps(r.flags, sort_keys=True) if r.flags else "-"),
        ("source message", r.source_message_id or "-"),
        ("created (UTC)", _when(r.created_at)),
        ("updated (UTC)", _when(r.updated_at)),
    ]
    _print_fields(fields)


def _print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    for label, value in fields:
        print(f"  {label:<16}{value}")


def _print_story(events: Sequence[AuditEvent]) -> None:
    print("\naudit trail (UTC)")
    if not events:
        print("  (no audit events)")
    for e in events:
        took = f" ({e.duration_ms} ms)" if e.duration_ms is not None else ""
        by = f" [{e.actor}]" if e.actor != SERVICE else ""
        print(f"{_when(e.created_at)}  {e.action:<10} {e.outcome!s:<7} {e.summary}{took}{by}")
        if e.error:
            print(f"{'':21}error: {e.error}")


def _print_json(body: Any) -> None:
    print(json.dumps(body, indent=2, default=str))


def _fail(message: str) -> None:
    print(f"{SERVICE}: {redact(message)}", file=sys.stderr)
