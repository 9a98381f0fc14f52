"""Stripe's form encoding: bracketed keys into nested values, and typed parameter access.

stripe-python sends `metadata[bc no]=x`, `lines[0][price_data][unit_amount]=100`,
`expand[0]=payments` (and other clients `expand[]=...`), all as strings (stripe-api.md §2).
`parse_form` rebuilds the nesting; numeric-index maps become lists, except under `metadata`
keys whose names may be digits; `encode_form` does the reverse for the control surface's
Dashboard helpers. `Params` gives typed getters that raise Stripe's own
parameter errors, naming the full bracketed parameter in `param`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from .errors import param_invalid
from .errors import param_missing
from .errors import param_unknown

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_METADATA_KEYS = frozenset({"metadata", "invoice_metadata"})


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    tail = "[" + rest
    segments = _SEGMENT.findall(tail)
    if "".join(f"[{s}]" for s in segments) != tail:
        raise param_invalid(key, f"Invalid parameter name: {key}")
    return [head, *segments]


def parse_form(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested dict/list structure from form or query pairs."""
    root: dict[str, Any] = {}
    for key, value in items:
        path = _split_key(key)
        node = root
        for depth, segment in enumerate(path):
            name = str(len(node)) if segment == "" else segment
            last = depth == len(path) - 1
            if last:
                if isinstance(node.get(name), dict):
                    raise param_invalid(key, f"Invalid value for {key}: conflicting parameters")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise param_invalid(key, f"Invalid value for {key}: conflicting parameters")
                node = child
    result = _listify(root, parent=None)
    assert isinstance(result, dict)
    return result


def _listify(value: Any, parent: str | None) -> Any:
    if not isinstance(value, dict):
        return value
    if parent in _METADATA_KEYS:
        return value
    converted = {k: _listify(v, k) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class Params:
    """Typed, validated access to one level of parsed parameters."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def check_known(self, allowed: Iterable[str]) -> None:
        """Reject parameters the endpoint does not define (`parameter_unknown`)."""
        allowed_set = set(allowed)
        for key in self.data:
            if key not in allowed_set:
                raise param_unknown(self.name(key))

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def string(
        self, key: str, *, required: bool = False, choices: Iterable[str] = ()
    ) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise param_missing(self.name(key))
            return None
        if not isinstance(value, str):
            raise param_invalid(self.name(key), f"Invalid string: {self.name(key)}")
        options = tuple(choices)
        if options and value not in options:
            raise param_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be one of {', '.join(options)}",
            )
        return value

    def text(self, key: str) -> str | None:
        """An optional string where "" means unset (Stripe's convention for clearing a field)."""
        value = self.string(key)
        return value if value else None

    def integer(
        self, key: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value):
            raise param_invalid(
                self.name(key), f"Invalid integer: {value}", code="parameter_invalid_integer"
            )
        number = int(value)
        if minimum is not None and number < minimum:
            raise param_invalid(
                self.name(key),
                f"This value must be greater than or equal to {minimum}.",
                code="parameter_invalid_integer",
            )
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.string(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise param_invalid(self.name(key), f"Invalid boolean: {value}")
        return value == "true"

    def decimal(self, key: str) -> Decimal | None:
        value = self.string(key)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise param_invalid(self.name(key), f"Invalid decimal: {value}")
        return number

    def sub(self, key: str, *, required: bool = False) -> Params | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise param_missing(self.name(key))
            return None
        if not isinstance(value, dict):
            raise param_invalid(self.name(key), f"Invalid object: {self.name(key)}")
        return Params(value, self.name(key))

    def objects(self, key: str, *, required: bool = False) -> list[Params]:
        """A list of objects (`lines[0][...]`), each wrapped with its indexed name."""
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise param_missing(self.name(key))
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise param_invalid(self.name(key), f"Invalid array: {self.name(key)}")
        return [Params(v, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        """A list of strings (`expand[0]=...`); a single plain value counts as one element."""
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise param_missing(self.name(key))
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise param_invalid(self.name(key), f"Invalid array: {self.name(key)}")
        return list(value)

    def metadata(self, key: str = "metadata") -> dict[str, str] | None:
        """Metadata changes: None when absent, {} to clear all, "" values delete single keys."""
        value = self.data.get(key)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise param_invalid(self.name(key), f"Invalid hash: {self.name(key)}")
        if len(value) > 50:
            raise param_invalid(self.name(key), "Metadata can have at most 50 keys.")
        for k, v in value.items():
            if len(k) > 40:
                raise param_invalid(
                    f"{self.name(key)}[{k}]", "Metadata keys can be at most 40 characters long."
                )
            if len(v) > 500:
                raise param_invalid(
                    f"{self.name(key)}[{k}]", "Metadata values can be at most 500 characters long."
                )
        return dict(value)


def merge_metadata(current: dict[str, str], changes: dict[str, str] | None) -> dict[str, str]:
    """Stripe's metadata update: merge, "" deletes a key, an empty mapping clears everything."""
    if changes is None:
        return current
    if not changes:
        return {}
    merged = dict(current)
    for key, value in changes.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def encode_form(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """The reverse of `parse_form`, as stripe-python encodes a request: nested mappings as
    `a[b]`, lists as `a[0]`, booleans as `true`/`false`, `None` left out, `""` kept (it
    unsets a field)."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend(encode_form(value, name))
        elif isinstance(value, list | tuple):
            pairs.extend(encode_form({str(i): v for i, v in enumerate(value)}, name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs
