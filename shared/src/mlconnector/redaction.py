"""Scrubbing of secret values from any text that leaves the process.

Two nets catch secrets. The first is exact: every value read from the secret store is registered
here (``register_secret``) at start-up, so it is replaced wherever it appears, whatever its shape.
The second is by pattern, for secrets that never went through the store: Stripe keys and webhook
secrets, bearer tokens, Vault tokens, ``client_secret=`` pairs and passwords inside URLs. Log
records and JSON error bodies both pass through ``redact`` (see ``mlconnector.logging`` and
``mlconnector.web``), so a secret cannot reach either by accident.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

MASK = "[REDACTED]"

# Values shorter than this are not registered for exact matching: replacing every "1" or "ab" in
# every log line would destroy the logs and protect nothing (such values are not secrets).
_MIN_EXACT_LENGTH = 6

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Stripe secret, restricted and publishable-looking keys, and webhook signing secrets.
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+"), MASK),
    (re.compile(r"\brk_[A-Za-z0-9_]{8,}"), MASK),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), MASK),
    # Vault service and batch tokens.
    (re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{10,}"), MASK),
    # Authorization headers and bearer tokens in any text.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # key=value and "key": "value" pairs whose key names a secret. The key may end a longer
    # snake_case name (MLC_BC_CLIENT_SECRET=..., DB_PASSWORD=...). A quoted value is masked up to
    # its closing quote (escapes included), so "correct horse battery" is hidden whole; the
    # closing quote itself is left in place.
    (
        re.compile(
            r"(?i)((?<![A-Za-z0-9])(?:client_secret|clientsecret|client_state|clientstate|"
            r"password|passwd|secret|api_key|apikey|access_token|refresh_token|token|master_key)\b"
            r"[\"']?\s*[:=]\s*)"
            r"(?:([\"'])(?:\\.|(?!\2)[^\\\n])*|[^\"'\s,&;}]+)"
        ),
        r"\1\2" + MASK,
    ),
    # Credentials inside URLs: scheme://user:password@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)"), r"\1" + MASK + r"\3"),
)


class _Registry:
    """Thread-safe set of exact secret values, compiled into one alternation on change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            before = len(self._values)
            self._values.update(v for v in values if v and len(v) >= _MIN_EXACT_LENGTH)
            if len(self._values) != before:
                # Longest first, so a secret that contains another is replaced whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern


_registry = _Registry()


def register_secret(value: str) -> None:
    """Make ``redact`` replace this exact value from now on, in this process."""
    _registry.add([value])


def register_secrets(values: Iterable[str]) -> None:
    """Register several secret values at once (one recompilation)."""
    _registry.add(values)


def forget_registered_secrets() -> None:
    """Drop every registered value; for tests that isolate processes' state."""
    _registry.clear()


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and every secret-looking pattern masked."""
    pattern = _registry.pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


def redact_data(value: object) -> Any:
    """A JSON-ready copy of ``value`` with every string in it (mapping keys too) redacted.

    Redacting each string before encoding, rather than the encoded text, matches a secret in its
    real form (not JSON-escaped, so quotes and backslashes in it do not hide it) and can never
    break the JSON around it. Objects JSON has no type for become their redacted ``str()``.
    """
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {redact(str(key)): redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_data(item) for item in value]
    return redact(str(value))
