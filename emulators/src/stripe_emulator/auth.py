"""API-key authentication: `Authorization: Bearer sk_test_...` (what stripe-python sends) or
HTTP Basic with the key as user name (what curl examples use).

Accepted: any well-formed `sk_test_` key when `config.api_keys` is empty, else exactly those
keys; `rk_test_` keys listed in `config.restricted_keys`. Revoked keys get 401
`api_key_expired`; a restricted key outside its permissions gets 403 (the SDK's
`PermissionError`); live and publishable keys are refused, so a gateway `ping` can show a clear
message for each case.

Well-formed: at least `MIN_KEY_BODY` letters, digits or underscores after `sk_test_`. Stripe
answers 401 "Invalid API Key provided: <masked key>" (`invalid_request_error`, no `code`) for
any key it does not know; in the emulator's "any test key" mode that would never happen, so it
refuses what cannot be a key: the bare prefix (an unset variable after `sk_test_`), a stub, and
characters no key has (whitespace, quotes, the dots of a masked key copied from the Dashboard,
`<...>` placeholders). Stripe's keys are base62, with 24 characters after the prefix in its
older documentation examples and about 99 in today's `sk_test_51...` keys; underscores are let
through so readable test keys (`sk_test_emulator_dashboard`) keep working. A listed key
(`api_keys`) is matched exactly, whatever its shape.

Keys are never echoed in full: errors show them masked as Stripe does (`ids.mask_key`): the
prefix, asterisks, the last four characters, e.g. "Invalid API Key provided:
sk_test_**********************Aso0" (github.com/stripe/stripe-node/issues/361) or
"pk_test_*****...*****fyDZ" (github.com/flutter-stripe/flutter_stripe/issues/2171, asterisks
shortened here); the bare prefix shows as `sk_test_****`.
"""

from __future__ import annotations

import base64
import binascii
import re

from flask import Request

from .config import EmulatorConfig
from .errors import StripeError
from .ids import mask_key

NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
TEST_KEY_PREFIX = "sk_test_"
MIN_KEY_BODY = 8
_KEY_BODY = re.compile(r"[A-Za-z0-9_]+")


def well_formed_test_key(key: str) -> bool:
    """Could `key` be a test-mode secret key? (See the module docstring for the rule.)"""
    body = key.removeprefix(TEST_KEY_PREFIX)
    return (
        key.startswith(TEST_KEY_PREFIX)
        and len(body) >= MIN_KEY_BODY
        and _KEY_BODY.fullmatch(body) is not None
    )


def _unauthorized(message: str, code: str | None = None) -> StripeError:
    return StripeError(401, message, code=code, stored=False)


def extract_key(request: Request) -> str | None:
    """The API key from a Bearer or Basic Authorization header."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def authenticate(config: EmulatorConfig, request: Request) -> str:
    """Return the accepted key or raise Stripe's 401/403 error."""
    key = extract_key(request)
    if not key:
        raise _unauthorized(NO_KEY_MESSAGE)
    masked = mask_key(key)
    if key in config.revoked_keys:
        raise _unauthorized(f"Expired API Key provided: {masked}", code="api_key_expired")
    if key.startswith("pk_"):
        raise _unauthorized(
            "This API call cannot be made with a publishable API key. Please use a secret "
            "API key. You can find a list of your API keys at "
            "https://dashboard.stripe.com/account/apikeys.",
            code="secret_key_required",
        )
    if key.startswith(("sk_live_", "rk_live_")):
        raise _unauthorized(
            f"Invalid API Key provided: {masked}. The Stripe emulator accepts test-mode keys only."
        )
    if key in config.restricted_keys:
        _check_restricted(masked, config.account_id, config.restricted_keys[key], request)
        return key
    valid = key in config.api_keys if config.api_keys else well_formed_test_key(key)
    if not valid:
        raise _unauthorized(f"Invalid API Key provided: {masked}")
    return key


def _check_restricted(masked: str, account: str, permissions: list[str], request: Request) -> None:
    segments = request.path.split("/")
    family = segments[2] if len(segments) > 2 else ""
    read_only = request.method in ("GET", "HEAD")
    allowed = f"{family}" in permissions or (read_only and f"{family}:read" in permissions)
    if not allowed:
        access = "read" if read_only else "write"
        raise StripeError(
            403,
            f"The provided key '{masked}' does not have the required permissions for this "
            f"endpoint on account '{account}'. Having the '{family}:{access}' permission "
            "would allow this request to continue.",
            stored=False,
        )
