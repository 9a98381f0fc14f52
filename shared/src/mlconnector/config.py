"""Typed settings from ``MLC_*`` environment variables, with one error that lists every problem.

Each service declares a frozen dataclass and builds it in ``from_env`` through an ``EnvReader``.
The reader never raises on the first bad variable: it records each missing or invalid one and
``EnvReader.finish()`` raises a single ``ConfigError`` naming all of them, so an operator fixes a
deployment in one round instead of one restart per typo. Values are never echoed in the error
for variables whose name says they are secret (not even inside the coercer's own message), and
every problem line passes through ``mlconnector.redaction`` for the secret-looking rest.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from collections.abc import Mapping
from typing import TypeVar
from typing import overload

from mlconnector.redaction import redact

PREFIX = "MLC_"

T = TypeVar("T")

_MISSING = object()
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY")
_HIDDEN = "(value hidden)"


class Environment(enum.StrEnum):
    """Where a process runs; decides defaults such as log level and emulator-friendly settings."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigError(RuntimeError):
    """Raised once at start-up with every missing or invalid setting listed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")


def parse_bool(raw: str) -> bool:
    """Accept the usual spellings; anything else is an error rather than a silent False."""
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {raw!r}")


def bounded(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], float]:
    """A coercer of ``kind`` that refuses values outside ``[low, high]``, saying the range."""

    def coerce(raw: str) -> float:
        value = kind(raw)
        if not low <= value <= high:
            raise ValueError(f"expected a value between {low:g} and {high:g}")
        return value

    return coerce


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """``bounded`` for whole numbers."""
    check = bounded(int, low, high)
    return lambda raw: int(check(raw))


def parse_list(raw: str) -> list[str]:
    """Comma-separated list; blanks dropped."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in _SECRET_WORDS)


def _hide(text: str, raw: str) -> str:
    """``text`` with every spelling of ``raw`` a coercer is likely to quote replaced."""
    forms = {raw, raw.strip(), repr(raw), repr(raw.strip())} - {""}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, _HIDDEN)
    return text


class EnvReader:
    """Reads prefixed variables and collects problems instead of stopping at the first one."""

    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = PREFIX) -> None:
        self._environ = os.environ if environ is None else environ
        self._prefix = prefix
        self.problems: list[str] = []

    @overload
    def __call__(self, name: str) -> str: ...

    @overload
    def __call__(self, name: str, coerce: Callable[[str], T]) -> T: ...

    @overload
    def __call__(self, name: str, coerce: Callable[[str], T], default: T) -> T: ...

    @overload
    def __call__(self, name: str, *, default: str) -> str: ...

    def __call__(
        self,
        name: str,
        coerce: Callable[[str], object] = str,
        default: object = _MISSING,
    ) -> object:
        """Return the coerced value of ``MLC_<name>``, the default, or record a problem.

        On a problem the returned value is the default (or ``None``): the caller keeps building
        its settings object, and ``finish()`` raises before anything uses it.
        """
        full = self._prefix + name
        raw = self._environ.get(full)
        if raw is None or raw == "":
            if default is _MISSING:
                self.problems.append(f"{full} is required but not set")
                return None
            return default
        try:
            return coerce(raw)
        except (ValueError, TypeError) as exc:
            # Coercers quote the bad value in their message (int() does): hide it there too.
            if _looks_secret(full):
                problem = f"{full}={_HIDDEN} is invalid: {redact(_hide(str(exc), raw))}"
            else:
                problem = redact(f"{full}={raw!r} is invalid: {exc}")
            self.problems.append(problem)
            return None if default is _MISSING else default

    def optional(self, name: str, coerce: Callable[[str], T]) -> T | None:
        """Return the coerced value of ``MLC_<name>``, or None when unset."""
        return self(name, coerce, None)

    def finish(self) -> None:
        """Raise ``ConfigError`` listing every problem seen so far, if any."""
        if self.problems:
            raise ConfigError(list(self.problems))
