"""Every Stripe error the gateway knows how to handle, as a closed allow-list (style.md §3.10).

Each row of ``CASES`` names one situation, how to match it (SDK exception class, HTTP status,
``error.code``, and for benign cases the operations where it is benign), what it means
(``Disposition``: retry later, give up, or "already done") and how the command API reports it
(status and stable error code). The first matching row wins, so specific rows come before
general ones. An error no row matches is a real failure: ``classify`` returns ``None`` and the
caller lets it propagate (a 500 with a logged traceback), because guessing would hide it.

Adding a case is one row here plus one test fed with an error body in the shape the reference
gives (stripe-api.md §11-§12). Two SDK quirks shape the rows: ``RateLimitError`` is built without
``code``, so the code is read from ``e.error.code`` (``rate_limit``, ``lock_timeout``); and a 409
(``idempotency_key_in_use``) has no exception class of its own, it arrives as ``APIError``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import stripe


class Disposition(enum.StrEnum):
    """What the caller should do about an error."""

    RETRYABLE = "retryable"  # a later attempt with the same request may succeed
    PERMANENT = "permanent"  # retrying the same request cannot help
    BENIGN = "benign"  # the effect is (probably) already there; re-read and carry on


@dataclasses.dataclass(frozen=True)
class Case:
    """One known error: how to recognise it and what it means."""

    name: str
    disposition: Disposition
    exception: type[stripe.StripeError]
    api_status: int
    api_code: str
    http_status: int | None = None  # exact status; None = any
    min_http_status: int | None = None  # a range such as 5xx
    error_code: str | None = None  # ``error.code``; None = any
    operations: frozenset[str] | None = None  # benign only for these operations
    retry_in_process: bool = False  # worth a short in-process retry (429, 409)
    retry_after_s: float = 1.0  # hint for the caller's ``Retry-After``

    def matches(self, exc: stripe.StripeError, operation: str | None) -> bool:
        if not isinstance(exc, self.exception):
            return False
        status = exc.http_status
        if self.http_status is not None and status != self.http_status:
            return False
        if self.min_http_status is not None and (status is None or status < self.min_http_status):
            return False
        if self.error_code is not None and error_code(exc) != self.error_code:
            return False
        return self.operations is None or operation in self.operations


_R, _P, _B = Disposition.RETRYABLE, Disposition.PERMANENT, Disposition.BENIGN
_STATE_CHANGES = frozenset({"finalize_invoice", "void_invoice", "pay_invoice_out_of_band"})

CASES: tuple[Case, ...] = (
    # 429s: the SDK does not retry a plain 429 (only with Stripe-Should-Retry: true).
    Case("rate_limited", _R, stripe.RateLimitError, 503, "stripe_unavailable",
         error_code="rate_limit", retry_in_process=True),
    Case("lock_timeout", _R, stripe.RateLimitError, 503, "stripe_unavailable",
         error_code="lock_timeout", retry_in_process=True),
    Case("too_many_requests", _R, stripe.RateLimitError, 503, "stripe_unavailable",
         retry_in_process=True),
    # 409: another request with the same Idempotency-Key is still running.
    Case("idempotency_key_in_use", _R, stripe.StripeError, 503, "stripe_unavailable",
         http_status=409, error_code="idempotency_key_in_use", retry_in_process=True),
    Case("conflict", _R, stripe.StripeError, 503, "stripe_unavailable",
         http_status=409, retry_in_process=True),
    # 5xx and network failures: the SDK has already retried them max_network_retries times.
    Case("server_error", _R, stripe.APIError, 503, "stripe_unavailable",
         min_http_status=500, retry_after_s=5.0),
    Case("connection_failed", _R, stripe.APIConnectionError, 503, "stripe_unavailable",
         retry_after_s=5.0),
    # Balance transactions of a payout exist only once its reconciliation completed.
    Case("payout_not_reconciled", _R, stripe.InvalidRequestError, 409, "payout_not_reconciled",
         error_code="payout_reconciliation_not_ready", retry_after_s=60.0),
    # Same Idempotency-Key, other parameters: the command changed under the same identity.
    Case("idempotency_mismatch", _P, stripe.IdempotencyError, 409, "idempotency_conflict"),
    # Finalize / void / pay on an invoice that already moved: re-read, it may be done.
    Case("already_transitioned", _B, stripe.InvalidRequestError, 409, "invalid_state",
         error_code="status_transition_invalid", operations=_STATE_CHANGES),
    Case("not_found", _P, stripe.InvalidRequestError, 404, "not_found", http_status=404),
    Case("invalid_request", _P, stripe.InvalidRequestError, 422, "stripe_rejected",
         http_status=400),
    Case("card_declined", _P, stripe.CardError, 422, "stripe_rejected"),
    Case("authentication_failed", _P, stripe.AuthenticationError, 502,
         "stripe_credentials_rejected"),
    Case("permission_denied", _P, stripe.PermissionError, 502, "stripe_permission_denied"),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A classified error: its case, plus what the response headers advise."""

    case: Case
    should_retry: bool | None  # the ``Stripe-Should-Retry`` header, if present
    replayed: bool  # the response was an idempotent replay of a stored result
    retry_after_s: float

    @property
    def disposition(self) -> Disposition:
        return self.case.disposition

    @property
    def retry_in_process(self) -> bool:
        """Worth retrying now: the row says so, Stripe does not veto it, it is not a replay."""
        if self.should_retry is False or self.replayed:
            return False
        return self.case.retry_in_process or self.should_retry is True


def error_code(exc: stripe.StripeError) -> str | None:
    """``error.code`` (where RateLimitError keeps it), falling back to ``exc.code``."""
    error = exc.error
    code = getattr(error, "code", None) if error is not None else None
    return str(code) if code else exc.code


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _retry_after(headers: Mapping[str, str] | None, default: float) -> float:
    raw = _header(headers, "Retry-After")
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        return default
    return min(max(value, 0.0), 3600.0)


def classify(exc: stripe.StripeError, operation: str | None = None) -> Verdict | None:
    """The verdict for ``exc`` raised by ``operation``; ``None`` when no row matches."""
    for case in CASES:
        if case.matches(exc, operation):
            should = _header(exc.headers, "Stripe-Should-Retry")
            return Verdict(
                case=case,
                should_retry=None if should is None else should.strip().lower() == "true",
                replayed=(_header(exc.headers, "Idempotent-Replayed") or "").lower() == "true",
                retry_after_s=_retry_after(exc.headers, case.retry_after_s),
            )
    return None
