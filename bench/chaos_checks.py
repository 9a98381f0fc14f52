"""What a crash or chaos run left behind, read from the outside: BC lines, records, queues, logs.

The figures follow reliability.md §5.6. BC is the truth for effects: every line, posted or still
in its batch, is found by its external document number (BC upper-cases it), so *lost* is an
expected number without a line, *duplicated* is the sum over numbers of (lines - 1), and
*unexpected* a line nobody asked for. The reconciler's database gives records by state and the
inbox; the broker gives the queue depths (a passive declare: ``list_queues`` lags for quorum
queues). Logs are scanned for the secret patterns of the checklist (§7 item 28) and for every
secret value the stack generated.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import create_engine
from sqlalchemy import inspect
from sqlalchemy import text

from mlc_local.stack import LocalStack
from mlconnector.bus import Topology
from mlconnector.secrets_file import EncryptedFileSecrets

# reliability.md §7 item 28. A masked value ("[REDACTED]") is not a leak, so the two patterns
# that name a secret rather than being one require a value that is not the mask.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "sk_live_": re.compile(r"sk_live_"),
    "sk_test_": re.compile(r"sk_test_"),
    "rk_live_": re.compile(r"rk_live_"),
    "whsec_": re.compile(r"whsec_"),
    "hvs.": re.compile(r"hvs\."),
    # Also inside a JSON log line, where the quotes around a value are escaped (\").
    "client_secret=<value>": re.compile(
        r"(?i)client_secret\\?[\"']?\s*[:=]\s*\\?[\"']?(?!\[REDACTED\])[^\s\"'\\,&;}]+"
    ),
    "amqp://user:pass@": re.compile(r"amqps?://[^@\s/:]+:(?!\[REDACTED\])[^@\s/]+@"),
}
# The public half of the service identity is published on purpose; an app's client id is an
# identifier that appears in token requests, not a secret.
PUBLIC_SECRET_PATHS = ("ml-connector/identity",)
PUBLIC_SECRET_KEYS = ("client_id",)
# The private members of a JWK; the rest (kty, kid, n, e, x, crv) is public.
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")
MIN_SECRET_LENGTH = 8


# -- BC lines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BcLine:
    number: str  # external document number, as BC keeps it (upper case)
    amount: Decimal
    posted: bool


def bc_lines(stack: LocalStack) -> dict[str, list[BcLine]]:
    """Every journal line with an external document number, posted or not, by that number."""
    company = f"/companies/{stack.company_id}"
    out: dict[str, list[BcLine]] = {}
    for path, posted in (("/postedJournalLines", True), ("/journalLines", False)):
        for row in stack.bc_admin("GET", company + path)["value"]:
            number = str(row.get("externalDocumentNumber") or "")
            if number:
                line = BcLine(number, Decimal(str(row.get("amount", "0"))), posted)
                out.setdefault(number, []).append(line)
    return out


@dataclass
class LineFigures:
    expected: int
    posted: int
    unposted: int
    lost: list[str]
    duplicated: int
    duplicated_numbers: list[str]
    unexpected: list[str]
    wrong_amount: list[str]


def line_figures(
    lines: dict[str, list[BcLine]],
    expected: dict[str, Decimal | None],
    *,
    ignore: Iterable[str] = (),
) -> LineFigures:
    """Compare BC's lines with the expected numbers (and amounts, where one is given)."""
    ignored = {n.upper() for n in ignore}
    wanted = {k.upper(): v for k, v in expected.items()}
    lost = sorted(n for n in wanted if not lines.get(n))
    found = [line for n in wanted for line in lines.get(n, [])]
    wrong = sorted(
        n
        for n, amount in wanted.items()
        if amount is not None and any(line.amount != amount for line in lines.get(n, []))
    )
    return LineFigures(
        expected=len(wanted),
        posted=sum(1 for line in found if line.posted),
        unposted=sum(1 for line in found if not line.posted),
        lost=lost,
        duplicated=sum(max(0, len(lines.get(n, [])) - 1) for n in wanted),
        duplicated_numbers=sorted(n for n in wanted if len(lines.get(n, [])) > 1),
        unexpected=sorted(n for n in lines if n not in wanted and n not in ignored),
        wrong_amount=wrong,
    )


# -- the reconciler's database ------------------------------------------------------------


@dataclass
class DatabaseFigures:
    records: Counter[str]  # "payment:succeeded" -> count
    inbox_total: int
    inbox_processed: int
    dead_letter_rows: dict[str, int]  # table -> rows, for tables named like dead letters

    def count(self, kind: str, state: str | None = None) -> int:
        return sum(
            n
            for key, n in self.records.items()
            if key.split(":")[0] == kind and (state is None or key.split(":")[1] == state)
        )

    def pending(self) -> int:
        return sum(n for key, n in self.records.items() if key.endswith(":pending"))


def database_figures(database_url: str) -> DatabaseFigures:
    """Records by kind and state, inbox rows, and rows of any dead-letter table."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            records: Counter[str] = Counter()
            for kind, state, n in conn.execute(
                text("SELECT kind, state, COUNT(*) FROM sync_records GROUP BY kind, state")
            ):
                records[f"{kind}:{state}"] = int(n)
            total, processed = conn.execute(
                text("SELECT COUNT(*), COUNT(processed_at) FROM inbox")
            ).one()
            dead = {}
            for table in inspect(conn).get_table_names():
                if "dead" in table:
                    # The name comes from the database's own catalogue, not from input.
                    query = text(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
                    dead[table] = int(conn.execute(query).scalar_one())
        return DatabaseFigures(records, int(total), int(processed), dead)
    finally:
        engine.dispose()


def database_rows(database_url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of one read-only query (the benchmark's own text, values bound as parameters)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query), params)]
    finally:
        engine.dispose()


# -- the broker ---------------------------------------------------------------------------


@dataclass
class QueueFigures:
    work: int
    retry: int
    dead: int

    @property
    def waiting(self) -> int:
        """Messages a consumer will still get: in the work queue or coming back from a wait."""
        return self.work + self.retry


def queue_figures(amqp_url: str, topology: Topology) -> QueueFigures:
    """Ready messages per queue (unacknowledged ones are not counted by the broker)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()

        def depth(queue: str) -> int:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

        return QueueFigures(
            work=depth(topology.queue),
            retry=sum(depth(topology.retry_queue(t)) for t in topology.retry_tiers_s),
            dead=depth(topology.dead_queue),
        )
    finally:
        connection.close()


def topology_of(stack: LocalStack) -> Topology:
    namespace = stack.options.bus_namespace
    return Topology.isolated(namespace) if namespace else Topology()


# -- secrets in logs ----------------------------------------------------------------------


def secret_values(stack: LocalStack) -> dict[str, str]:
    """Label -> every secret value the stack generated (from its secrets file, plus the master
    key), without the published public keys."""
    store = EncryptedFileSecrets(stack.env["MLC_SECRETS_FILE"], stack.master_key)
    values = {"MLC_MASTER_KEY": stack.master_key}
    for path in store.list_paths():
        if path in PUBLIC_SECRET_PATHS:
            continue
        for key, value in store.read(path).items():
            if key in PUBLIC_SECRET_KEYS:
                continue
            for label, needle in _needles(f"{path}:{key}", value):
                values[label] = needle
    return {label: v for label, v in values.items() if len(v) >= MIN_SECRET_LENGTH}


def _needles(label: str, value: str) -> list[tuple[str, str]]:
    """A JWK's private members separately (a log would show them, not the JSON); else the value."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return [(label, value)]
    if not isinstance(parsed, dict):
        return [(label, value)]
    return [
        (f"{label}.{member}", str(parsed[member]))
        for member in PRIVATE_JWK_MEMBERS
        if isinstance(parsed.get(member), str)
    ]


def scan_logs(log_dirs: Iterable[Path], values: dict[str, str]) -> Counter[str]:
    """Lines (per pattern or secret label) that show a secret, over every ``*.log`` file."""
    hits: Counter[str] = Counter()
    for directory in log_dirs:
        for path in sorted(directory.glob("*.log")):
            with path.open(errors="replace") as handle:
                for line in handle:
                    for name, pattern in SECRET_PATTERNS.items():
                        if pattern.search(line):
                            hits[f"{path.name}: pattern {name}"] += 1
                    for label, value in values.items():
                        if value in line:
                            hits[f"{path.name}: value of {label}"] += 1
    return hits


# -- printing -----------------------------------------------------------------------------


@dataclass
class Row:
    """One figure: what was seen and, for a checked figure, what it must be (zero by default)."""

    name: str
    observed: object
    expected: object = None
    checked: bool = False

    @property
    def target(self) -> object:
        return 0 if self.checked and self.expected is None else self.expected

    @property
    def failed(self) -> bool:
        return self.checked and self.observed != self.target

    @property
    def verdict(self) -> str:
        if not self.checked:
            return ""
        return "FAIL" if self.failed else "ok"


def table(title: str, rows: list[Row]) -> list[str]:
    """The rows as one aligned table: figure, expected, observed, verdict."""
    width = max(len(r.name) for r in rows)
    out = [
        title,
        f"  {'figure':<{width}}  {'expected':>14}  {'observed':>14}  check",
        f"  {'-' * width}  {'-' * 14}  {'-' * 14}  -----",
    ]
    for r in rows:
        expected = "" if r.target is None else str(r.target)
        line = f"  {r.name:<{width}}  {expected:>14}  {r.observed!s:>14}  {r.verdict}"
        out.append(line.rstrip())
    return out


def sample(items: list[str], limit: int = 5) -> str:
    """A few items of a list for a note under the table."""
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")
