"""Business Central errors, classified by a closed allow-list (style.md §3.10).

BC answers ``{"error": {"code": "<Code>", "message": "<text>  CorrelationId:  <guid>."}}`` with an
HTTP status (bc-api.md §6.4). ``classify`` walks ``RULES`` top to bottom and returns the first
matching row's exception type; a response no row matches is a real failure the gateway does not
understand and becomes ``BCUnexpectedError`` (answered as a 500, never retried blindly). Adding a
case means one row here and one test fed with a body in the exact shape of the reference.

- ``BCRetryableError``: trying later can succeed (throttling, timeouts, a busy service).
- ``BCConflict``: a stale ETag; re-read the record and try again (a retryable kind).
- ``BCAuthError``: BC rejected the token or the app's permissions; an operator must act, then a
  retry succeeds, so it is retryable for callers but never retried in a loop by the client.
- ``BCNotFound``: the addressed record does not exist.
- ``BCPermanentError``: BC refused the request itself (business rule, bad field); retrying the
  same request cannot help.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

_CORRELATION = re.compile(r"\s*CorrelationId:\s*([0-9A-Fa-f-]{36})\.?\s*$")


class BCError(Exception):
    """An error answer from BC: HTTP status, BC's code and message, its correlation id."""

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        correlation_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        prefix = f"BC {status}" if status is not None else "BC"
        super().__init__(f"{prefix} {code}: {message}" if code else f"{prefix}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.retry_after_s = retry_after_s


class BCRetryableError(BCError):
    """Transient: throttled, timed out, busy, unreachable. Try again later."""


class BCConflict(BCRetryableError):
    """409 ``Request_EntityChanged``: the ETag is stale; re-read and try again."""


class BCAuthError(BCRetryableError):
    """401/403: BC rejected the token or the app's permissions (fix the setup, then retry)."""


class BCPermanentError(BCError):
    """BC refused the request; the same request will be refused again."""


class BCNotFound(BCPermanentError):
    """The addressed record (or company) does not exist."""


class BCUnexpectedError(BCError):
    """An answer no rule covers: surfaced as a failure, never silently retried."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One row of the allow-list: status (None = any), code (exact, ``X*`` = prefix, None = any)."""

    status: int | None
    code: str | None
    kind: type[BCError]
    why: str

    def matches(self, status: int, code: str) -> bool:
        if self.status is not None and self.status != status:
            return False
        if self.code is None:
            return True
        if self.code.endswith("*"):
            return code.startswith(self.code[:-1])
        return code == self.code


RULES: tuple[Rule, ...] = (
    Rule(409, "Request_EntityChanged", BCConflict, "stale ETag (bc-api.md §6.3)"),
    Rule(409, "Internal_EntityWithSameKeyExists", BCPermanentError, "duplicate key on insert"),
    Rule(409, None, BCRetryableError, "other conflicts are transient database conflicts"),
    Rule(408, None, BCRetryableError, "operation timeout, the session was cancelled"),
    Rule(429, None, BCRetryableError, "throttled (speed, connection or queue limits)"),
    Rule(500, "Internal_ServerError", BCRetryableError, "BC's own transient server error"),
    Rule(502, None, BCRetryableError, "bad gateway; BC adds Retry-After"),
    Rule(503, None, BCRetryableError, "unavailable or queued too long; BC adds Retry-After"),
    Rule(504, None, BCRetryableError, "request execution time exceeded"),
    Rule(401, None, BCAuthError, "token rejected; app not registered or disabled in BC"),
    Rule(403, None, BCAuthError, "the app lacks permissions in BC"),
    Rule(404, "Internal_RecordNotFound", BCNotFound, "no record with that key"),
    Rule(404, "BadRequest_NotFound", BCNotFound, "no such resource"),
    Rule(404, "Internal_CompanyNotFound", BCNotFound, "no such company"),
    Rule(404, "BadRequest_ResourceNotFound", BCPermanentError, "unknown URL segment (our bug)"),
    Rule(400, "Application_*", BCPermanentError, "business logic refused the request"),
    Rule(400, "BadRequest*", BCPermanentError, "malformed request"),
    Rule(400, "Internal_*", BCPermanentError, "invalid relation or filter value"),
    Rule(400, "Unknown", BCPermanentError, "e.g. an invalid option value"),
    Rule(405, None, BCPermanentError, "method not allowed on this entity"),
    Rule(413, None, BCPermanentError, "page or body too large"),
)


def rule_for(status: int, code: str) -> Rule | None:
    """The first row matching a BC error answer, if any."""
    return next((rule for rule in RULES if rule.matches(status, code)), None)


def classify(status: int, code: str) -> type[BCError]:
    """The exception type for a BC error answer; ``BCUnexpectedError`` when no row matches."""
    rule = rule_for(status, code)
    return rule.kind if rule is not None else BCUnexpectedError


def parse_error_body(text: str) -> tuple[str, str, str | None]:
    """(code, message, correlation id) from BC's error envelope; tolerant of other bodies."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        snippet = " ".join(text.split())[:200]
        return "", snippet or "no error body", None
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    match = _CORRELATION.search(message)
    correlation = match.group(1) if match else None
    if match:
        message = message[: match.start()].rstrip()
    return code, message, correlation


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(status: int, text: str, retry_after: str | None) -> BCError:
    """Build the classified exception for one error response."""
    code, message, correlation = parse_error_body(text)
    kind = classify(status, code)
    return kind(
        status,
        code,
        message,
        correlation_id=correlation,
        retry_after_s=parse_retry_after(retry_after),
    )
