"""The connection report: what ``stripe-gateway ping`` checks, per check and as data.

The console's Connections page asks the gateway (``GET /commands/connection``) because the
reconciler holds no Stripe key. Four checks, in order, each ``{ok, detail, ...facts}``:

1. **key** -- its mode (test or live) and type (secret or restricted) from its prefix, shown
   masked (``sk_test_…abcd``: the last four as the Dashboard lists them, and only for a key
   Stripe accepts, as ``ping`` never echoes a refused key), and whether Stripe accepts it;
2. **account** -- ``GET /v1/account``: id, name, country, default currency, charges and payouts;
3. **webhooks** -- the account's webhook endpoints, which of them are the gateway's (created by
   ``register-webhook``, or sending to ``/webhooks/stripe``), and the handled events
   (``events.HANDLED_EVENTS``) no enabled endpoint of ours sends;
4. **permissions** -- a one-item list of every resource family the gateway reads (403 for what a
   restricted key may not read); writes cannot be probed without side effects, so they are
   listed, not tested.

The gateway has no setting for its public webhook URL (``register-webhook --url`` is given it
once), which is why "ours" is recognised by the description the gateway gives its endpoints or by
the path its webhook is served on. It uses the gateway's own Stripe client, so the report shows
the key the gateway really holds. The advice for a refused key or an unreachable Stripe, and the
account's description, are ``ping``'s own, so the page and the CLI say the same thing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

import stripe

from mlconnector.connection_checks import DEFAULT_TIMEOUT_S
from mlconnector.connection_checks import CheckRunner
from mlconnector.connection_checks import Recorder
from mlconnector.connection_checks import failed
from mlconnector.connection_checks import passed
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import key_mode
from stripe_gateway.adapters.stripe_client import key_problem
from stripe_gateway.adapters.stripe_client import key_type
from stripe_gateway.events import HANDLED_EVENTS
from stripe_gateway.ping import EXIT_KEY_REJECTED
from stripe_gateway.ping import EXIT_OK
from stripe_gateway.ping import READ_PROBES
from stripe_gateway.ping import STORE
from stripe_gateway.ping import WRITES_NEEDED
from stripe_gateway.ping import PingReport
from stripe_gateway.ping import PingStopped
from stripe_gateway.ping import fatal_answer
from stripe_gateway.ping import read_account
from stripe_gateway.ping import webhook_facts

NAMES = ("key", "account", "webhooks", "permissions")
#: The description ``register-webhook`` gives the endpoints it creates (``stripe_client``).
GATEWAY_DESCRIPTION = "ml-connector stripe-gateway"
#: Where the gateway serves Stripe's webhook (``api.webhooks``).
WEBHOOK_PATH = "/webhooks/stripe"
REGISTER = (
    "register one with: stripe-gateway register-webhook --url https://<public host>" + WEBHOOK_PATH
)
RUNNER = CheckRunner("Stripe", NAMES)

_PREFIX = re.compile(r"(?:sk|rk|pk)_(?:test|live)_")
_USABLE = ("secret", "restricted")


def masked_key(api_key: str, *, last_four: bool) -> str:
    """The key's prefix, and its last four characters when ``last_four`` and the key has the
    shape of one Stripe issues (for a stub, four characters would be most of it)."""
    match = _PREFIX.match(api_key)
    if match is None:
        return "…"
    if last_four and key_problem(api_key) is None:
        return f"{match.group(0)}…{api_key[-4:]}"
    return f"{match.group(0)}…"


def is_ours(url: str, description: str | None) -> bool:
    """Whether a webhook endpoint is the gateway's: named by ``register-webhook``, or sending to
    the gateway's webhook path."""
    if description == GATEWAY_DESCRIPTION:
        return True
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return False
    return path.rstrip("/").endswith(WEBHOOK_PATH)


def unsent_events(endpoints: Iterable[dict[str, Any]]) -> list[str]:
    """The handled events no enabled endpoint of ours sends (Stripe sends them nowhere we see)."""
    sent: set[str] = set()
    for endpoint in endpoints:
        if endpoint["ours"] and endpoint["status"] == "enabled":
            sent.update(endpoint["enabled_events"])
    if "*" in sent:
        return []
    return [event for event in HANDLED_EVENTS if event not in sent]


def webhooks_verdict(endpoints: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether Stripe sends the gateway every event it handles, and what to do if not.

    No endpoint is a failure here although ``ping`` calls it a warning: ``poll`` can bring the
    events in meanwhile, but an administrator looking at this page wants to see it.
    """
    ours = [e for e in endpoints if e["ours"]]
    enabled = [e for e in ours if e["status"] == "enabled"]
    if not ours:
        return False, (
            "no webhook endpoint sends to the gateway, so Stripe sends it nothing (only "
            f"`stripe-gateway poll` brings events in); {REGISTER}"
        )
    if not enabled:
        names = ", ".join(e["id"] for e in ours)
        return False, f"the gateway's endpoint {names} is disabled: Stripe sends it nothing"
    missing = unsent_events(endpoints)
    if missing:
        return False, (
            f"no endpoint of ours sends {', '.join(missing)}, which the gateway handles "
            "(register-webhook --force subscribes a new endpoint to all of them)"
        )
    urls = sorted({e["url"] for e in enabled})
    detail = f"Stripe sends every handled event to {', '.join(urls)}"
    if len(enabled) > len(urls):
        detail += " (more than one enabled endpoint per URL: each event arrives more than once)"
    return True, detail


def connection_report(
    client: StripeClient, api_key: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """Run the four checks within ``timeout_s``; ``ok`` when every one passed."""
    checked_at = dt.datetime.now(dt.UTC)
    checks = RUNNER.run(functools.partial(_steps, client, api_key), timeout_s)
    return {
        "ok": all(check.ok for check in checks.values()),
        "checked_at": checked_at,
        "timeout_s": timeout_s,
        "checks": {name: check.to_json() for name, check in checks.items()},
    }


def _steps(client: StripeClient, api_key: str, rec: Recorder) -> None:
    mode, kind = key_mode(api_key), key_type(api_key)
    facts: dict[str, Any] = {
        "mode": mode,
        "type": kind,
        "masked": masked_key(api_key, last_four=False),
    }
    if kind not in _USABLE:
        what = "a publishable key" if kind == "publishable" else "not a Stripe secret key"
        rec.put(
            "key",
            failed(
                f"it is {what}: the gateway needs a secret (sk_) or restricted (rk_) key; {STORE}",
                **facts,
            ),
        )
        rec.skip_rest("not checked: the key cannot be used")
        return
    rec.begin("key", **facts)
    found = PingReport(EXIT_OK, [])
    try:
        read_account(client, found)  # ping's own reading of GET /v1/account
    except PingStopped as stop:
        rec.put("key", failed(str(stop), **facts))
        rejected = stop.code == EXIT_KEY_REJECTED
        rec.skip_rest(
            "not checked: Stripe rejected the key"
            if rejected
            else "not checked: Stripe could not be reached"
        )
        return
    except (StripeCallError, stripe.StripeError) as exc:
        account = failed(f"Stripe did not describe the account: {exc}")
    else:
        line = found.lines[-1].removeprefix("account: ") if found.lines else "no answer"
        if found.account is None:
            account = failed(line)
        else:
            account = passed(line, **dataclasses.asdict(found.account))
    accepted = {**facts, "masked": masked_key(api_key, last_four=True)}
    rec.put("key", passed(f"Stripe accepts this {mode}-mode {kind} key", **accepted))
    rec.put("account", account)
    _webhooks(client, rec)
    _permissions(client, rec)


def _refusal(exc: StripeCallError | stripe.StripeError, client: StripeClient) -> str:
    """What to show for a failed read: ``ping``'s message for a refused key or an unreachable
    Stripe, "may not read" for a 403, else Stripe's own message."""
    if not isinstance(exc, StripeCallError):
        return f"Stripe answered unexpectedly: {exc}"
    stop = fatal_answer(client, exc)
    if stop is not None:
        return str(stop)
    if exc.verdict.case.name == "permission_denied":
        return "this key may not read it (403)"
    return str(exc)


def _endpoint(raw: stripe.WebhookEndpoint) -> dict[str, Any]:
    hook = webhook_facts(raw)  # ping's reading: the events and the handled ones it does not send
    return {
        "id": hook.id,
        "url": hook.url,
        "status": hook.status,
        "api_version": hook.api_version,
        "enabled_events": list(hook.events),
        "missing_events": list(hook.missing),
        "ours": is_ours(hook.url, getattr(raw, "description", None)),
    }


def _webhooks(client: StripeClient, rec: Recorder) -> None:
    facts: dict[str, Any] = {"handled_events": list(HANDLED_EVENTS), "endpoints": [], "missing": []}
    rec.begin("webhooks", **facts)
    try:
        rows = [_endpoint(raw) for raw in client.list_webhook_endpoints()]
    except (StripeCallError, stripe.StripeError) as exc:
        detail = f"cannot list webhook endpoints: {_refusal(exc, client)}"
        rec.put("webhooks", failed(detail, **facts))
        return
    ok, detail = webhooks_verdict(rows)
    facts.update(endpoints=rows, missing=unsent_events(rows))
    rec.put("webhooks", passed(detail, **facts) if ok else failed(detail, **facts))


def _permissions(client: StripeClient, rec: Recorder) -> None:
    rows: list[dict[str, Any]] = []
    for resource in READ_PROBES:
        rec.begin("permissions", resources=list(rows), writes_needed=WRITES_NEEDED)
        try:
            client.probe(resource)
        except (StripeCallError, stripe.StripeError) as exc:
            error = exc.error if isinstance(exc, StripeCallError) else exc
            detail = _refusal(exc, client)
            rows.append(
                {"resource": resource, "ok": False, "status": error.http_status, "detail": detail}
            )
        else:
            rows.append({"resource": resource, "ok": True, "status": 200, "detail": "read"})
    refused = [
        f"{row['resource']} ({row['status'] or 'no answer'})" for row in rows if not row["ok"]
    ]
    facts = {"resources": rows, "writes_needed": WRITES_NEEDED}
    if refused:
        check = failed(
            f"cannot read {', '.join(refused)}. A restricted key needs read access to those and "
            f"write access to: {WRITES_NEEDED}",
            **facts,
        )
    else:
        check = passed(
            f"read access to all {len(rows)} resource families the gateway reads; writes "
            f"cannot be probed without side effects (needed: {WRITES_NEEDED})",
            **facts,
        )
    rec.put("permissions", check)
