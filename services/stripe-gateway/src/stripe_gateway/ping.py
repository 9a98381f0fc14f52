"""``stripe-gateway ping``: "can we reach your real Stripe, with this key, and do everything?"

For the IT person setting credentials, and for a Connections page showing the same facts
(``PingReport`` carries them as data besides the printed lines). It reports the key's mode and
type (from its prefix: test or live; secret, restricted or publishable), the account
(``GET /v1/account``: id, name, country, default currency, whether charges and payouts are
enabled), the balance's ``livemode``, the webhook endpoints registered on the account with
their enabled events (and which of the events the gateway handles an endpoint does not send),
and probes a one-item list of every other resource family the gateway reads. Writes cannot be
probed without side effects, so a restricted key's write permissions are listed, not tested.

A key Stripe refuses is never echoed, not even masked; when its shape explains the refusal
(nothing after ``sk_test_``, a space or quote pasted with it, too short) the message says so.

Exit codes: 0 all good; 3 the key was rejected (401: invalid, malformed, revoked or expired);
4 the key is restricted and lacks a permission the gateway needs (403); 5 Stripe could not be
reached or answered with an error worth retrying (network, 5xx, rate limit). 2 is the CLI's
own "cannot start" (configuration or secrets). No webhook endpoint is a warning, not a failure:
``poll`` can bring the events in meanwhile.
"""

from __future__ import annotations

import dataclasses

import stripe

from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.events import HANDLED_EVENTS
from stripe_gateway.stripe_errors import Disposition
from stripe_gateway.stripe_errors import error_code

EXIT_OK = 0
EXIT_KEY_REJECTED = 3
EXIT_PERMISSION = 4
EXIT_UNREACHABLE = 5

#: What the gateway reads (one-item list probes; webhook endpoints are listed whole).
READ_PROBES = (
    "customers",
    "invoices",
    "invoice_payments",
    "charges",
    "refunds",
    "payouts",
    "balance_transactions",
    "events",
    "webhook_endpoints",
)
WRITES_NEEDED = "customers, invoices (create, add lines, finalize, void, pay), webhook_endpoints"
STORE = "store it with: mlc-secrets set ml-connector/stripe api_key"


class PingStopped(Exception):
    """An answer that ends the ping (and the connection report's Stripe checks) with its exit."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclasses.dataclass(frozen=True)
class AccountFacts:
    """The account the key belongs to, as ``GET /v1/account`` describes it."""

    id: str
    name: str | None
    country: str | None
    default_currency: str | None
    charges_enabled: bool | None
    payouts_enabled: bool | None


@dataclasses.dataclass(frozen=True)
class WebhookFacts:
    """One webhook endpoint of the account; ``missing``: handled events it does not send."""

    id: str
    url: str
    status: str
    api_version: str | None
    events: tuple[str, ...]
    missing: tuple[str, ...]


@dataclasses.dataclass
class PingReport:
    exit_code: int
    lines: list[str]
    key_mode: str = "unknown"
    key_type: str = "unknown"
    account: AccountFacts | None = None
    webhooks: list[WebhookFacts] = dataclasses.field(default_factory=list)


def fatal_answer(client: StripeClient, exc: StripeCallError) -> PingStopped | None:
    """The exit for errors that end the ping; None when it may carry on."""
    name = exc.verdict.case.name
    if name == "authentication_failed":
        return PingStopped(
            EXIT_KEY_REJECTED, f"Stripe rejected the API key (401): {_why(client, exc)}"
        )
    if exc.verdict.disposition is Disposition.RETRYABLE:
        return PingStopped(
            EXIT_UNREACHABLE,
            f"cannot reach Stripe ({name}, request {exc.request_id}): check the network, "
            "MLC_STRIPE_API_BASE and https://status.stripe.com, then try again",
        )
    return None


def _why(client: StripeClient, exc: StripeCallError) -> str:
    if error_code(exc.error) == "api_key_expired":
        return f"it is revoked or expired. Create or roll a key in the Stripe Dashboard and {STORE}"
    if client.api_key_problem:
        return (
            f"it is malformed: {client.api_key_problem}. Copy the whole key from the Stripe "
            f"Dashboard (Developers > API keys) and {STORE}"
        )
    return (
        "it is invalid (wrong key, or a key from another account). Create or roll a key in the "
        f"Stripe Dashboard and {STORE}"
    )


def _only_denied(client: StripeClient, exc: StripeCallError) -> None:
    """Return when ``exc`` is a 403 (the ping carries on); otherwise end the ping (fatal
    errors) or re-raise (anything else: the CLI prints it as one line)."""
    stop = fatal_answer(client, exc)
    if stop is not None:
        raise stop from None
    if exc.verdict.case.name != "permission_denied":
        raise exc


def read_account(client: StripeClient, report: PingReport) -> None:
    """``GET /v1/account`` into the report; the connection report reads it the same way."""
    try:
        account = client.retrieve_account()
    except StripeCallError as exc:
        if exc.verdict.case.name == "not_found":
            report.lines.append("account: not available from this API (GET /v1/account: 404)")
        else:
            _only_denied(client, exc)
            report.lines.append("account: this key may not read the account details")
        return
    settings = getattr(account, "settings", None)
    dashboard = getattr(settings, "dashboard", None)
    profile = getattr(account, "business_profile", None)
    facts = AccountFacts(
        id=account.id,
        name=getattr(dashboard, "display_name", None) or getattr(profile, "name", None),
        country=getattr(account, "country", None),
        default_currency=getattr(account, "default_currency", None),
        charges_enabled=getattr(account, "charges_enabled", None),
        payouts_enabled=getattr(account, "payouts_enabled", None),
    )
    report.account = facts
    report.lines.append(
        f"account: {facts.id} ({facts.name or '-'}), country {facts.country or '-'}, "
        f"default currency {(facts.default_currency or '-').upper()}, "
        f"charges {_enabled(facts.charges_enabled)}, payouts {_enabled(facts.payouts_enabled)}"
    )


def _enabled(flag: bool | None) -> str:
    return "unknown" if flag is None else ("enabled" if flag else "DISABLED")


def _mode(client: StripeClient, lines: list[str]) -> None:
    try:
        balance = client.retrieve_balance()
    except StripeCallError as exc:
        stop = fatal_answer(client, exc)
        if stop is not None:
            raise stop from None
        lines.append(f"balance: not readable ({exc.verdict.case.name})")
        return
    live = bool(getattr(balance, "livemode", False))
    lines.append(f"account mode: {'live' if live else 'test'}")
    if client.api_key_mode != "unknown" and (client.api_key_mode == "live") != live:
        lines.append("warning: the key's prefix and the account's mode disagree")


def webhook_facts(endpoint: stripe.WebhookEndpoint) -> WebhookFacts:
    """One endpoint as both reports show it: its events and the handled ones it does not send."""
    events = tuple(endpoint.enabled_events)
    missing = () if "*" in events else tuple(e for e in HANDLED_EVENTS if e not in events)
    return WebhookFacts(
        id=endpoint.id,
        url=endpoint.url,
        status=endpoint.status,
        api_version=endpoint.api_version,
        events=events,
        missing=missing,
    )


def _webhooks(client: StripeClient, report: PingReport) -> bool:
    """List the account's webhook endpoints into the report; False when the key may not."""
    try:
        report.webhooks = [webhook_facts(e) for e in client.list_webhook_endpoints()]
    except StripeCallError as exc:
        _only_denied(client, exc)
        return False
    if not report.webhooks:
        report.lines.append(
            "warning: no webhook endpoint is registered, so Stripe sends the gateway nothing "
            "(only `stripe-gateway poll` brings events in). Register one with: "
            "stripe-gateway register-webhook --url https://<public host>/webhooks/stripe"
        )
    for hook in report.webhooks:
        report.lines.append(
            f"webhook endpoint: {hook.id} {hook.url} ({hook.status}, "
            f"API version {hook.api_version or 'account default'})"
        )
        report.lines.append(f"  enabled events: {', '.join(hook.events) or '-'}")
        if hook.status != "enabled":
            report.lines.append("  warning: this endpoint is disabled: Stripe sends it nothing")
        if hook.missing:
            report.lines.append(
                f"  warning: it does not send {', '.join(hook.missing)}, which the gateway "
                "handles (register-webhook --force subscribes a new endpoint to all of them)"
            )
    return True


def _read_access(client: StripeClient, report: PingReport) -> list[str]:
    """The resource families the key may not read (403), in ``READ_PROBES`` order."""
    webhooks_readable = _webhooks(client, report)
    denied: list[str] = []
    for resource in READ_PROBES:
        if resource == "webhook_endpoints":  # listed whole by ``_webhooks``
            if not webhooks_readable:
                denied.append(resource)
            continue
        try:
            client.probe(resource)
        except StripeCallError as exc:
            _only_denied(client, exc)
            denied.append(resource)
    return denied


def ping(client: StripeClient) -> PingReport:
    """Check the key, the account, its webhook endpoints and read access; return the report."""
    report = PingReport(EXIT_OK, [], key_mode=client.api_key_mode, key_type=client.api_key_type)
    report.lines.append(f"key mode: {client.api_key_mode} (from the key prefix)")
    restricted = client.api_key_type == "restricted"
    report.lines.append(
        f"key type: {client.api_key_type}"
        + (" (write permissions cannot be probed without side effects)" if restricted else "")
    )
    try:
        read_account(client, report)
        _mode(client, report.lines)
        denied = _read_access(client, report)
    except PingStopped as stop:
        report.exit_code = stop.code
        report.lines.append(f"FAILED: {stop}")
        return report
    if denied:
        report.exit_code = EXIT_PERMISSION
        report.lines.append(
            f"FAILED: the key is restricted and may not read: {', '.join(denied)} (403). "
            f"Give it read access to those and write access to: {WRITES_NEEDED}"
        )
        return report
    report.lines.append(f"read access: ok ({', '.join(READ_PROBES)})")
    report.lines.append(f"OK: Stripe is reachable with this key (writes needed: {WRITES_NEEDED})")
    return report
