"""List and search envelopes with Stripe's cursor and page-token pagination.

Lists are newest first (`starting_after` walks to older objects, `ending_before` to newer
ones), `limit` is 1..100 with default 10, and the envelope carries `url` so the SDK's
`auto_paging_iter` works (stripe-api.md §3.3). Search results carry an opaque `next_page`
token that the caller passes back as `page`. Range filters (`created`, `due_date`, ...)
accept an integer or `{gt, gte, lt, lte}`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from .errors import param_invalid
from .errors import resource_missing
from .forms import Params
from .store import Record
from .store import Store
from .store import label

Renderer = Callable[[Record], Record]


def limit_of(params: Params) -> int:
    limit = params.integer("limit")
    if limit is None:
        return 10
    if not 1 <= limit <= 100:
        raise param_invalid(
            "limit", "Invalid limit: must be between 1 and 100", "parameter_invalid_integer"
        )
    return limit


def range_filter(params: Params, key: str) -> Callable[[int | None], bool]:
    """Predicate for `key=<int>` or `key[gt|gte|lt|lte]=<int>`; absent means always true."""
    raw = params.raw(key)
    if raw is None:
        return lambda _value: True
    if isinstance(raw, str):
        exact = params.integer(key)
        return lambda value: value is not None and value == exact
    sub = params.sub(key)
    assert sub is not None
    sub.check_known(("gt", "gte", "lt", "lte"))
    bounds = {op: sub.integer(op) for op in ("gt", "gte", "lt", "lte")}

    def matches(value: int | None) -> bool:
        if value is None:
            return False
        checks = {
            "gt": lambda b: value > b,
            "gte": lambda b: value >= b,
            "lt": lambda b: value < b,
            "lte": lambda b: value <= b,
        }
        return all(checks[op](b) for op, b in bounds.items() if b is not None)

    return matches


def paginate(
    store: Store,
    kind: str,
    records: list[Record],
    params: Params,
    url: str,
    render: Renderer,
) -> Record:
    """A list envelope for `records` (already filtered, in display order)."""
    limit = limit_of(params)
    starting_after = params.text("starting_after")
    ending_before = params.text("ending_before")
    if starting_after and ending_before:
        raise param_invalid(
            "ending_before",
            "You may only specify one of these parameters: ending_before, starting_after.",
        )
    position = {r["id"]: i for i, r in enumerate(records)}
    if starting_after or ending_before:
        cursor = starting_after or ending_before or ""
        param = "starting_after" if starting_after else "ending_before"
        anchor = _anchor(store, kind, records, position, cursor, param)
        if starting_after:
            window = records[anchor + 1 :]
            page, has_more = window[:limit], len(window) > limit
        else:
            window = records[:anchor]
            page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = records[:limit], len(records) > limit
    return {
        "object": "list",
        "data": [render(r) for r in page],
        "has_more": has_more,
        "url": url,
    }


def _anchor(
    store: Store,
    kind: str,
    records: list[Record],
    position: dict[str, int],
    cursor: str,
    param: str,
) -> int:
    if cursor in position:
        return position[cursor]
    target = store.get(kind, cursor)
    if target is None:
        raise resource_missing(label(kind), cursor, param)
    # The cursor object exists but is filtered out: place it by insertion order. Lists are
    # either newest first (descending _seq) or oldest first (ascending _seq).
    seq = int(target["_seq"])
    descending = len(records) < 2 or int(records[0]["_seq"]) > int(records[-1]["_seq"])
    for i, record in enumerate(records):
        other = int(record["_seq"])
        if (descending and other < seq) or (not descending and other > seq):
            return i - 1 if param == "starting_after" else i
    return len(records) - 1 if param == "starting_after" else len(records)


def _encode_page(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_page(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise param_invalid("page", f"Invalid page: {token}")
    return int(number)


def search_page(records: list[Record], params: Params, url: str, render: Renderer) -> Record:
    """A search_result envelope with `next_page` tokens."""
    limit = limit_of(params)
    token = params.text("page")
    offset = _decode_page(token) if token else 0
    page = records[offset : offset + limit]
    has_more = len(records) > offset + limit
    return {
        "object": "search_result",
        "data": [render(r) for r in page],
        "has_more": has_more,
        "next_page": _encode_page(offset + limit) if has_more else None,
        "url": url,
    }


def expand_paths(params: Params) -> list[str]:
    return params.strings("expand")


def common_list_params() -> tuple[str, ...]:
    return ("limit", "starting_after", "ending_before", "expand", "created")


def filter_records(records: list[Record], *predicates: Callable[[Record], bool]) -> list[Record]:
    return [r for r in records if all(p(r) for p in predicates)]


def field_equals(key: str, value: Any) -> Callable[[Record], bool]:
    """Predicate: absent filter (None) matches everything."""
    if value is None:
        return lambda _record: True
    return lambda record: record.get(key) == value
