"""What the Connections page shows: both gateways' connection reports, asked side by side.

The reconciler holds no BC or Stripe credentials, so "ping your real systems" is a question to
each gateway (``GET /commands/connection``), which checks its side and answers within the time it
is given. The two questions run concurrently and the page waits a little longer than that time,
so one slow system never hides the other's answer. A gateway that does not answer, refuses the
reconciler, or sends something unreadable is shown as such on the page: this page exists for the
day something is wrong, so it must never fail itself (no 500).

The reports are plain JSON; this module turns them into what the templates need: each check with
a title in the administrator's words, a result word, and times as ``datetime`` (for the console's
``when`` filter). ``subscription_rows`` also reads the Today page's subscription list, which
comes from bc-gateway's lighter ``GET /commands/subscriptions`` (one BC call, not the report's
fifteen) with rows of the same shape, asked the same bounded way (``ask_gateways``).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import dataclasses
import logging
import time
from collections.abc import Callable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable

logger = logging.getLogger(__name__)

Json = dict[str, Any]

BC_GATEWAY = "bc-gateway"
STRIPE_GATEWAY = "stripe-gateway"

#: Each check of each report, in the report's order, in the administrator's words.
BC_CHECKS = {
    "token": "Sign-in (Microsoft Entra ID)",
    "company": "Company",
    "permissions": "Permissions",
    "subscriptions": "Webhook subscriptions",
}
STRIPE_CHECKS = {
    "key": "API key",
    "account": "Account",
    "webhooks": "Webhook endpoints",
    "permissions": "Read access",
}


@dataclasses.dataclass(frozen=True)
class Answer:
    """What one gateway said (``report``), or why there is nothing to show (``problem``)."""

    gateway: str
    report: Json | None = None
    problem: str | None = None
    reason: str | None = None


def has_checks(report: Json) -> bool:
    """Whether an answer is a connection report (``checks`` by name) the page can read."""
    return isinstance(report.get("checks"), dict)


def ask_gateways(
    calls: Mapping[str, Callable[[], Json]],
    wait_s: float,
    *,
    readable: Callable[[Json], bool] = has_checks,
) -> dict[str, Answer]:
    """Ask every gateway at once; each answer, or why there is none, after at most ``wait_s``.

    ``readable`` tells an answer the page can show from one it cannot (a gateway older or newer
    than the console); the default expects a connection report.
    """
    answers: dict[str, Answer] = {}
    if not calls:
        return answers
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=len(calls), thread_name_prefix="connections"
    )
    try:
        started = time.monotonic()
        # Each call in a copy of this request's context: its correlation id goes to the gateway.
        futures = {
            name: pool.submit(contextvars.copy_context().run, call) for name, call in calls.items()
        }
        for name, future in futures.items():
            remaining = max(0.0, wait_s - (time.monotonic() - started))
            answers[name] = _answer(name, future, remaining, wait_s, readable)
    finally:
        # Never wait for a gateway that hangs: the page answers within its own deadline.
        pool.shutdown(wait=False, cancel_futures=True)
    return answers


def _answer(
    name: str,
    future: concurrent.futures.Future[Json],
    remaining: float,
    wait_s: float,
    readable: Callable[[Json], bool],
) -> Answer:
    silent = f"{name} did not answer"
    try:
        report = future.result(timeout=remaining)
    except concurrent.futures.TimeoutError:
        return Answer(name, problem=silent, reason=f"No answer within {wait_s:g} seconds.")
    except GatewayUnavailable as exc:
        return Answer(name, problem=silent, reason=str(exc))
    except GatewayRejected as exc:
        reason = (
            f"{exc.message} (the gateway may be older than the console, or MLC_COMMAND_CALLERS "
            "does not grant the reconciler this command)"
            if exc.code in ("forbidden", "not_found")
            else exc.message
        )
        return Answer(name, problem=f"{name} refused the question", reason=reason)
    except Exception as exc:
        # Whatever broke, this page must still say so rather than fail with a 500.
        logger.exception("asking %s failed", name)
        return Answer(name, problem=silent, reason=f"The question failed: {type(exc).__name__}.")
    if not readable(report):
        return Answer(name, problem=f"{name} sent an answer the console cannot read")
    return Answer(name, report=report)


@dataclasses.dataclass(frozen=True)
class CheckRow:
    """One line of a report's table."""

    name: str
    title: str
    ok: bool
    skipped: bool
    detail: str
    facts: Json

    @property
    def result(self) -> str:
        if self.ok:
            return "OK"
        return "Not checked" if self.skipped else "Failed"

    @property
    def badge(self) -> str:
        """The badge class of ``console.css`` for the result."""
        if self.ok:
            return "succeeded"
        return "pending" if self.skipped else "failed"


@dataclasses.dataclass(frozen=True)
class Side:
    """One system's part of the page: its checks, or why it has none."""

    key: str
    system: str
    answer: Answer
    checks: tuple[CheckRow, ...] = ()
    checked_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.answer.report is not None and all(check.ok for check in self.checks)

    def check(self, name: str) -> CheckRow | None:
        return next((check for check in self.checks if check.name == name), None)


def parse_time(raw: object) -> datetime | None:
    """An ISO 8601 time from a report, as an aware ``datetime``; None when absent or unreadable."""
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str) and raw:
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def with_times(value: Any) -> Any:
    """A copy of a report with every ``*_at`` string turned into a ``datetime``."""
    if isinstance(value, dict):
        return {
            key: parse_time(item) if key.endswith("_at") else with_times(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_times(item) for item in value]
    return value


def _side(key: str, system: str, answer: Answer, titles: Mapping[str, str]) -> Side:
    if answer.report is None:
        return Side(key, system, answer)
    report = with_times(answer.report)
    checks = report.get("checks") or {}
    rows = []
    for name, title in titles.items():
        raw = checks.get(name)
        check = raw if isinstance(raw, dict) else {}
        rows.append(
            CheckRow(
                name=name,
                title=title,
                ok=check.get("ok") is True,
                skipped=bool(check.get("skipped")),
                detail=str(check.get("detail") or "The gateway did not report this check."),
                facts={k: v for k, v in check.items() if k not in ("ok", "skipped", "detail")},
            )
        )
    return Side(key, system, answer, tuple(rows), report.get("checked_at"))


def bc_side(answer: Answer) -> Side:
    return _side("bc", "Business Central", answer, BC_CHECKS)


def stripe_side(answer: Answer) -> Side:
    return _side("stripe", "Stripe", answer, STRIPE_CHECKS)


ENTITY_LABELS = {
    "salesInvoices": "Sales invoices",
    "salesCreditMemos": "Sales credit memos",
    "customers": "Customers",
}


@dataclasses.dataclass(frozen=True)
class Subscription:
    """One BC webhook subscription, as the subscription list shows it."""

    entity: str | None
    resource: str
    notification_url: str
    expires_at: datetime | None
    ours: bool
    expired: bool
    expiring_soon: bool

    @property
    def label(self) -> str:
        """The entity set as BC's own pages name it, else as the subscription names it."""
        return ENTITY_LABELS.get(self.entity or "", self.entity or self.resource or "Unknown")

    @property
    def status(self) -> str:
        if self.expired:
            return "Expired"
        if self.expiring_soon:
            return "Due for renewal"
        return "Active"

    @property
    def badge(self) -> str:
        if self.expired:
            return "failed"
        return "pending" if self.expiring_soon else "succeeded"


def subscriptions_of(report: Mapping[str, Any] | None) -> list[Subscription]:
    """The BC subscriptions of a bc-gateway connection report, ours first, soonest to expire
    first; empty when the report has none (BC not asked, or the check did not get that far)."""
    checks = (report or {}).get("checks")
    check = checks.get("subscriptions") if isinstance(checks, dict) else None
    return subscription_rows(check.get("subscriptions") if isinstance(check, dict) else None)


def is_subscription_list(answer: Json) -> bool:
    """Whether an answer is bc-gateway's subscription list (``value`` rows) the page can read."""
    return isinstance(answer.get("value"), list)


def listed_subscriptions(answer: Mapping[str, Any] | None) -> list[Subscription]:
    """The rows of bc-gateway's ``GET /commands/subscriptions``, ordered as on the
    Connections page."""
    return subscription_rows((answer or {}).get("value"))


def subscription_rows(raw: object) -> list[Subscription]:
    """Subscription rows as bc-gateway sends them (``subscriptions.subscription_row``, in the
    connection report and the subscription list alike), ours first, soonest to expire first;
    anything that is not a row is left out."""
    rows = [
        Subscription(
            entity=item.get("entity"),
            resource=str(item.get("resource") or ""),
            notification_url=str(item.get("notification_url") or ""),
            expires_at=parse_time(item.get("expires_at")),
            ours=item.get("ours") is True,
            expired=item.get("expired") is True,
            expiring_soon=item.get("expiring_soon") is True,
        )
        for item in (raw if isinstance(raw, list) else [])
        if isinstance(item, dict)
    ]
    latest = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda s: (not s.ours, s.expires_at or latest, s.resource))
