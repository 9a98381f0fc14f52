"""Stripe webhook signature checks: defensive header parsing, both-sided timestamp window.

The header is ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`` and the signature is an
HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint secret (stripe-api.md §10). The HMAC
itself is checked by ``stripe.WebhookSignature.verify_header`` (constant-time, any ``v1``
matches), tried once per active secret because it takes one secret per call and rotation keeps
two alive. Around it this module adds what the SDK leaves out (reliability.md §6.1): a size cap
and a strict parse of the header before any work (``t`` an integer, at least one 64-hex ``v1``,
other schemes ignored), and a rejection of timestamps too far in the *future* as well as in the
past (the SDK only rejects old ones).

Every failure raises ``SignatureRejected`` whose ``reason`` is safe to log: it never contains
the body, the header or a secret.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence

import stripe

MAX_HEADER_LENGTH = 8 * 1024
DEFAULT_TOLERANCE_S = 300
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_MAX_TIMESTAMP_DIGITS = 12


class SignatureRejected(Exception):
    """The delivery is not a genuine, fresh Stripe delivery; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class SignatureHeader:
    """The parsed header: the first ``t`` and every ``v1`` signature."""

    timestamp: int
    signatures: tuple[str, ...]


def parse_header(raw: str | None) -> SignatureHeader:
    """Parse ``Stripe-Signature``; ``SignatureRejected`` for anything but a well-formed header."""
    if raw is None:
        raise SignatureRejected("missing Stripe-Signature header")
    if not raw.strip():
        raise SignatureRejected("empty Stripe-Signature header")
    if len(raw) > MAX_HEADER_LENGTH:
        raise SignatureRejected(f"Stripe-Signature header longer than {MAX_HEADER_LENGTH} bytes")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in raw.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise SignatureRejected("malformed Stripe-Signature element (expected key=value)")
        if key == "t":
            if timestamp is not None:
                continue  # the SDK uses the first t; so do we
            if not (value.isascii() and value.isdigit()) or len(value) > _MAX_TIMESTAMP_DIGITS:
                raise SignatureRejected("Stripe-Signature timestamp is not an integer")
            timestamp = int(value)
        elif key == "v1":
            if not _HEX_SIGNATURE.fullmatch(value):
                raise SignatureRejected("Stripe-Signature v1 value is not a 64-digit hex HMAC")
            signatures.append(value)
        # Other schemes (v0 is Stripe's test-only scheme) are ignored, as the SDK does.
    if timestamp is None:
        raise SignatureRejected("Stripe-Signature header has no t= timestamp")
    if not signatures:
        raise SignatureRejected("Stripe-Signature header has no v1= signature")
    return SignatureHeader(timestamp, tuple(signatures))


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> SignatureHeader:
    """Check ``payload`` against ``header`` with each secret; return the parsed header.

    Raises ``SignatureRejected`` when the header is malformed, the timestamp is more than
    ``tolerance_s`` away from now in either direction, the body is not UTF-8, or no ``v1``
    matches any of ``secrets``.
    """
    if tolerance_s <= 0:
        raise ValueError("the tolerance must be positive: 0 would disable the replay window")
    parsed = parse_header(header)
    current = time.time() if now is None else now
    if parsed.timestamp < current - tolerance_s:
        raise SignatureRejected("timestamp too old (outside the tolerance window)")
    if parsed.timestamp > current + tolerance_s:
        raise SignatureRejected("timestamp in the future (outside the tolerance window)")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRejected("body is not UTF-8") from None
    assert header is not None  # parse_header accepted it
    for secret in secrets:
        if not secret:
            continue
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance=tolerance_s)
        except stripe.SignatureVerificationError:
            continue
        return parsed
    raise SignatureRejected("no v1 signature matches an active secret")
