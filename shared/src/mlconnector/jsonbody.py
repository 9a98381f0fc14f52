"""Request JSON parsed so that no body, however hostile, can turn into a 500.

The standard parser has two ways to fail that are not a ``ValueError``: a deeply nested document
(``[[[[...``) exhausts the recursion limit and raises ``RecursionError``, which escapes every
``except ValueError`` and leaves as a 500 with an ERROR traceback; and documents well inside the
recursion limit can still be deep enough to make every later recursive walk (marshmallow, our
own encoders, logging of details) expensive or fragile. ``loads`` turns every failure into
``InvalidJSON`` with a short ``reason`` that is safe to show and log (it never quotes the body),
and after parsing checks what the standard parser lets through: nesting deeper than
``MAX_DEPTH``, ``NaN``/``Infinity`` (not JSON, and not a number any ledger accepts), and strings
holding lone UTF-16 surrogates (``"\\ud800"``), which cannot be encoded as UTF-8 and would fail
later, far from the request, when the value is published or stored. Those are ``HostileJSON``.

``request_json`` applies it to the current Flask request and answers 400 ``invalid_json`` with
the reason. Every service parses request bodies through here (bc-gateway through ``bc_json``,
which adds exact decimals).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import request

from mlconnector.web import ApiError
from mlconnector.web import note_refusal

MAX_DEPTH = 64

ParseFloat = Callable[[str], Any]


class InvalidJSON(ValueError):
    """The bytes are not a JSON document this service accepts; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HostileJSON(InvalidJSON):
    """Parseable in principle, refused on purpose: too deep, non-finite, lone surrogates."""


def _refuse_constant(name: str) -> Any:
    raise HostileJSON(f"{name} is not a JSON number")


def loads(
    data: str | bytes, *, parse_float: ParseFloat | None = None, max_depth: int = MAX_DEPTH
) -> Any:
    """Parse ``data`` (UTF-8 bytes or text); ``InvalidJSON`` for anything unacceptable."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InvalidJSON("the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_float=parse_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise HostileJSON(f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except InvalidJSON:
        raise
    except ValueError:
        # int() refuses numbers with more than sys.get_int_max_str_digits() digits.
        raise HostileJSON("a JSON number has too many digits") from None
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """``HostileJSON`` if a parsed document nests too deep or holds unencodable text.

    Iterative, so that checking a document can never hit the recursion limit itself.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise HostileJSON(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float | Decimal) and not _finite(item):
            raise HostileJSON("a JSON number is out of range")


def _finite(number: float | Decimal) -> bool:
    return number.is_finite() if isinstance(number, Decimal) else number not in _INFINITIES


_INFINITIES = (float("inf"), float("-inf"))


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise HostileJSON("a JSON string holds a lone UTF-16 surrogate") from None


def request_json(*, silent: bool = False, parse_float: ParseFloat | None = None) -> Any:
    """The current request's body as JSON, or a 400 ``invalid_json`` naming the reason.

    ``silent`` keeps a caller's old leniency for a body that is simply not JSON (it gets
    ``None``), but never for a hostile one: that is refused whatever the caller asked for.
    """
    try:
        return loads(request.get_data(cache=True), parse_float=parse_float)
    except HostileJSON as exc:
        raise invalid_json(exc) from None
    except InvalidJSON as exc:
        if silent:
            return None
        raise invalid_json(exc) from None


def invalid_json(exc: InvalidJSON) -> ApiError:
    """The 400 for a body ``loads`` refused; the reason goes to the answer and the log line."""
    note_refusal(exc.reason)
    return ApiError(f"the body is not acceptable JSON: {exc.reason}", code="invalid_json")
