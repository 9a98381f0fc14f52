"""The connection report: what ``bc-gateway ping`` checks, plus the webhook subscriptions, as data.

The console's Connections page asks the gateway (``GET /commands/connection``) because the
reconciler holds no BC credentials. Four checks, in order, each ``{ok, detail, ...facts}``:

1. **token** -- Entra issues (or msal serves from its cache) the token the gateway uses: the
   authority host, tenant and client id it was asked with, and when the token expires;
2. **company** -- BC knows the configured company (its name), with ``ping``'s advice when not;
3. **permissions** -- a one-row read of every entity set the connector reads or writes, each
   answered 200 or refused (401/403 with BC's code and message);
4. **subscriptions** -- BC's ``subscriptions`` as the renewal job sees them: which are ours (our
   notification URL on this company's resources), when each expires on BC's clock, which are
   due for renewal, and which entity sets have none (BC then notifies nothing for them).

It uses the gateway's own token provider and client, so it shows the state the gateway is in,
not that of a fresh connection: the expiry is that of the token the commands use. Nothing
secret leaves: not the token (only its ``exp`` claim is read), not the client secret, not a
subscription's ``clientState``. The wording of the token and company advice is ``ping``'s, and
"ours" is the renewal job's own test, so the page, the CLI and the job never disagree. The
subscription rows are ``subscriptions.read_subscriptions``'s, the same the lighter
``GET /commands/subscriptions`` answers with for the console's Today page.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from typing import Any

from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_errors import BCAuthError
from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.bc_errors import BCNotFound
from bc_gateway.adapters.token import MsalTokenProvider
from bc_gateway.adapters.token import TokenError
from bc_gateway.ping import READS
from bc_gateway.ping import auth_advice
from bc_gateway.ping import missing_company_advice
from bc_gateway.settings import BCSettings
from bc_gateway.settings import Settings
from bc_gateway.subscriptions import ENTITIES
from bc_gateway.subscriptions import read_subscriptions
from mlconnector.connection_checks import DEFAULT_TIMEOUT_S
from mlconnector.connection_checks import CheckRunner
from mlconnector.connection_checks import Recorder
from mlconnector.connection_checks import failed
from mlconnector.connection_checks import passed

NAMES = ("token", "company", "permissions", "subscriptions")
#: Every entity set the connector reads or writes: ``ping.READS`` first, then credit memos
#: (``credit_memos``), G/L entries (``account_balance``), bank accounts (``general_lines``),
#: currencies and their rates (``open_invoice_search``, ``exchange_rates``), and the company
#: information and G/L setup the local currency is read from (``services``).
ENTITY_READS: tuple[str, ...] = (
    *READS,
    *(
        entity
        for entity in (
            "salesCreditMemos",
            "generalLedgerEntries",
            "bankAccounts",
            "currencies",
            "currencyExchangeRates",
            "companyInformation",
            "generalLedgerSetup",
        )
        if entity not in READS
    ),
)
RUNNER = CheckRunner("BC", NAMES)


def token_expiry(token: str) -> dt.datetime | None:
    """The ``exp`` claim of a JWT access token, read without verifying it (shown, never trusted).

    msal keeps the expiry to itself; Entra's access tokens (and the emulator's) are JWTs whose
    ``exp`` is the same instant. Anything else (an opaque token) gives None: "unknown".
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:  # not base64, not UTF-8 or not JSON
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(exp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def missing_entities(rows: list[dict[str, Any]]) -> list[str]:
    """The entity sets without a live subscription of ours: BC notifies nothing for them."""
    covered = {row["entity"] for row in rows if row["ours"] and not row["expired"]}
    return [entity for entity in ENTITIES if entity not in covered]


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def subscriptions_verdict(
    rows: list[dict[str, Any]],
    notification_url: str | None,
    now: dt.datetime,
    margin: dt.timedelta,
) -> tuple[bool, str]:
    """Whether BC notifies the gateway of every entity set it follows, and what to do if not.

    A subscription due for renewal is fine (the daily ``renew-subscriptions`` renews it within
    the margin); a missing or expired one is not: BC sends nothing for that entity set.
    """
    if not notification_url:
        return False, (
            "MLC_BC_NOTIFICATION_URL is not set, so no subscription is the gateway's: BC "
            "notifies it of nothing (only poll-invoices brings changes in)"
        )
    missing = missing_entities(rows)
    if missing:
        return False, (
            f"no live subscription to {notification_url} for {', '.join(missing)}: run "
            "bc-gateway renew-subscriptions (until then BC notifies nothing for them)"
        )
    ours = [row for row in rows if row["ours"] and not row["expired"]]
    known = [row["expires_at"] for row in ours if row["expires_at"] is not None]
    detail = f"{len(ours)} subscription(s) to {notification_url}"
    if known:
        first = min(known)
        detail += (
            f"; the first expires {first.isoformat(timespec='seconds')} (in {_hours(first - now)})"
        )
    due = sorted({row["entity"] for row in ours if row["expiring_soon"]})
    if due:
        detail += (
            f"; {', '.join(due)} due for renewal (renew-subscriptions renews within "
            f"{_hours(margin)} of expiry)"
        )
    return True, detail


def connection_report(
    settings: Settings,
    client_id: str,
    tokens: MsalTokenProvider | None,
    bc: BCClient | None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run the four checks within ``timeout_s``; ``ok`` when every one passed."""
    checked_at = dt.datetime.now(dt.UTC)
    steps = functools.partial(_steps, settings, client_id, tokens, bc)
    checks = RUNNER.run(steps, timeout_s)
    return {
        "ok": all(check.ok for check in checks.values()),
        "checked_at": checked_at,
        "timeout_s": timeout_s,
        "checks": {name: check.to_json() for name, check in checks.items()},
    }


def _steps(
    settings: Settings,
    client_id: str,
    tokens: MsalTokenProvider | None,
    bc: BCClient | None,
    rec: Recorder,
) -> None:
    target = settings.bc
    facts: dict[str, Any] = {
        "authority_host": target.authority_host if target else None,
        "tenant_id": target.tenant_id if target else None,
        "client_id": client_id,
        "expires_at": None,
        "aadsts": None,
    }
    if target is None or tokens is None or bc is None:
        rec.put(
            "token",
            failed(
                "the BC connection is not configured: set MLC_BC_TENANT_ID and "
                "MLC_BC_COMPANY_ID (and MLC_BC_ENVIRONMENT unless it is production)",
                **facts,
            ),
        )
        rec.skip_rest("not checked: BC is not configured")
        return
    rec.begin("token", **facts)
    try:
        token = tokens.token()
    except TokenError as exc:
        rec.put("token", failed(str(exc), **{**facts, "aadsts": exc.aadsts}))
        rec.skip_rest("not checked: Entra issued no token")
        return
    rec.put(
        "token",
        passed(
            f"Entra issued a token for app {client_id} at {target.authority}",
            **{**facts, "expires_at": token_expiry(token)},
        ),
    )
    if not _company(target, client_id, bc, rec):
        rec.skip_rest("not checked: the company check failed")
        return
    _permissions(client_id, bc, rec)
    _subscriptions(settings, bc, rec)


def _company(target: BCSettings, client_id: str, bc: BCClient, rec: Recorder) -> bool:
    facts: dict[str, Any] = {
        "id": target.company_id,
        "environment": target.environment,
        "name": None,
        "reachable": False,
    }
    rec.begin("company", **facts)
    try:
        company = bc.get(f"companies({target.company_id})")
    except BCAuthError as exc:
        detail = auth_advice(exc, client_id)
    except BCNotFound:
        try:
            detail = missing_company_advice(bc, target)
        except BCError as exc:
            detail = f"company {target.company_id} not found ({exc})"
    except BCError as exc:
        detail = f"BC did not answer as expected: {exc}"
    else:
        name = company.get("displayName") or company.get("name")
        rec.put(
            "company",
            passed(
                f"{name} ({target.company_id}) in environment {target.environment!r}",
                **{**facts, "name": name, "reachable": True},
            ),
        )
        return True
    rec.put("company", failed(detail, **facts))
    return False


def _permissions(client_id: str, bc: BCClient, rec: Recorder) -> None:
    rows: list[dict[str, Any]] = []
    for entity in ENTITY_READS:
        rec.begin("permissions", entities=list(rows))  # a deadline shows what has answered
        try:
            bc.get(bc.company_path(entity), {"$top": "1"})
        except BCAuthError as exc:
            rows.append(_denied(entity, exc, f"{exc.status} {exc.code}: {exc.message}"))
        except BCError as exc:
            rows.append(_denied(entity, exc, str(exc)))
        else:
            rows.append({"entity": entity, "ok": True, "status": 200, "detail": "read"})
    refused = [f"{row['entity']} ({row['status'] or 'no answer'})" for row in rows if not row["ok"]]
    if refused:
        check = failed(
            f"cannot read {', '.join(refused)}: assign permission sets covering them to app "
            f"{client_id} on BC's 'Microsoft Entra Applications' page",
            entities=rows,
        )
    else:
        check = passed(
            f"read access to all {len(rows)} entity sets the connector uses", entities=rows
        )
    rec.put("permissions", check)


def _denied(entity: str, exc: BCError, detail: str) -> dict[str, Any]:
    return {"entity": entity, "ok": False, "status": exc.status, "detail": detail}


def _subscriptions(settings: Settings, bc: BCClient, rec: Recorder) -> None:
    url = settings.notification_url
    margin = dt.timedelta(seconds=settings.renew_margin_s)
    facts: dict[str, Any] = {
        "notification_url": url,
        "renew_margin_hours": settings.renew_margin_s / 3600,
        "subscriptions": [],
        "missing": [],
    }
    rec.begin("subscriptions", **facts)
    try:
        # The rows the console's subscription list shows too (GET /commands/subscriptions).
        rows, now = read_subscriptions(bc, url, margin)
    except BCError as exc:
        rec.put("subscriptions", failed(f"cannot read BC's webhook subscriptions: {exc}", **facts))
        return
    ok, detail = subscriptions_verdict(rows, url, now, margin)
    facts.update(subscriptions=rows, missing=missing_entities(rows) if url else list(ENTITIES))
    rec.put("subscriptions", passed(detail, **facts) if ok else failed(detail, **facts))
