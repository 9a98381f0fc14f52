"""``stripe-gateway ping``: "can we reach your real Stripe, with this key, and do everything?"

For the IT person setting credentials. It reports the key's mode (from its prefix), the
account (``GET /v1/account``; the Stripe emulator does not serve that route and answers 404,
which is reported as "not available" rather than as a failure), the balance's ``livemode``,
and probes a one-item list of every resource family the gateway reads. Writes cannot be probed
without side effects, so a restricted key's write permissions are listed, not tested.

Exit codes: 0 all good; 3 the key was rejected (401: invalid, revoked or expired); 4 the key is
restricted and lacks a permission the gateway needs (403); 5 Stripe could not be reached or
answered with an error worth retrying (network, 5xx, rate limit). 2 is the CLI's own "cannot
start" (configuration or secrets).
"""

from __future__ import annotations

import dataclasses

from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.stripe_errors import Disposition
from stripe_gateway.stripe_errors import error_code

EXIT_OK = 0
EXIT_KEY_REJECTED = 3
EXIT_PERMISSION = 4
EXIT_UNREACHABLE = 5

#: What the gateway reads (one-item list probes), by the SDK's service name.
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


class _Stop(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclasses.dataclass
class PingReport:
    exit_code: int
    lines: list[str]


def _fatal(exc: StripeCallError) -> _Stop | None:
    """The exit for errors that end the ping; None when it may carry on."""
    name = exc.verdict.case.name
    if name == "authentication_failed":
        why = (
            "revoked or expired"
            if error_code(exc.error) == "api_key_expired"
            else "invalid (wrong key, or a key from another account)"
        )
        return _Stop(
            EXIT_KEY_REJECTED,
            f"Stripe rejected the API key (401): it is {why}. Create or roll a key in the "
            "Stripe Dashboard and store it with: mlc-secrets set ml-connector/stripe api_key",
        )
    if exc.verdict.disposition is Disposition.RETRYABLE:
        return _Stop(
            EXIT_UNREACHABLE,
            f"cannot reach Stripe ({name}, request {exc.request_id}): check the network, "
            "MLC_STRIPE_API_BASE and https://status.stripe.com, then try again",
        )
    return None


def _account(client: StripeClient, lines: list[str]) -> None:
    try:
        account = client.retrieve_account()
    except StripeCallError as exc:
        stop = _fatal(exc)
        if stop is not None:
            raise stop from None
        if exc.verdict.case.name == "not_found":
            lines.append("account: not available from this API (GET /v1/account answered 404)")
        elif exc.verdict.case.name == "permission_denied":
            lines.append("account: this key may not read the account details")
        else:
            raise
        return
    settings = getattr(account, "settings", None)
    dashboard = getattr(settings, "dashboard", None)
    profile = getattr(account, "business_profile", None)
    name = getattr(dashboard, "display_name", None) or getattr(profile, "name", None) or "-"
    lines.append(f"account: {account.id} ({name})")


def _mode(client: StripeClient, lines: list[str]) -> None:
    try:
        balance = client.retrieve_balance()
    except StripeCallError as exc:
        stop = _fatal(exc)
        if stop is not None:
            raise stop from None
        lines.append(f"balance: not readable ({exc.verdict.case.name})")
        return
    live = bool(getattr(balance, "livemode", False))
    lines.append(f"account mode: {'live' if live else 'test'}")
    if client.api_key_mode != "unknown" and (client.api_key_mode == "live") != live:
        lines.append("warning: the key's prefix and the account's mode disagree")


def ping(client: StripeClient) -> PingReport:
    """Check the key, the account and read access; return the exit code and report lines."""
    lines = [f"key mode: {client.api_key_mode} (from the key prefix)"]
    try:
        _account(client, lines)
        _mode(client, lines)
        denied: list[str] = []
        for resource in READ_PROBES:
            try:
                client.probe(resource)
            except StripeCallError as exc:
                stop = _fatal(exc)
                if stop is not None:
                    raise stop from None
                if exc.verdict.case.name != "permission_denied":
                    raise
                denied.append(resource)
    except _Stop as stop:
        return PingReport(stop.code, [*lines, f"FAILED: {stop}"])
    if denied:
        return PingReport(
            EXIT_PERMISSION,
            [
                *lines,
                f"FAILED: the key is restricted and may not read: {', '.join(denied)} (403). "
                f"Give it read access to those and write access to: {WRITES_NEEDED}",
            ],
        )
    lines.append(f"read access: ok ({', '.join(READ_PROBES)})")
    lines.append(f"OK: Stripe is reachable with this key (writes needed: {WRITES_NEEDED})")
    return PingReport(EXIT_OK, lines)
