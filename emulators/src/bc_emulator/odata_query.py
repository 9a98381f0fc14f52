"""OData query options (``$filter $top $skip $select $expand $orderby $skiptoken``) and paging.

Server-driven paging follows bc-api.md §6.2: the page size is ``Prefer: odata.maxpagesize``
capped at the server maximum (20,000 online), and a further page is announced by an absolute
``@odata.nextLink`` carrying an opaque ``$skiptoken``. Without ``$orderby`` the token is
key-based (the last record's insertion number), so inserts between page requests neither skip
nor repeat records; with ``$orderby`` it is an offset.

``$schemaversion`` is read for one thing: a ``$filter`` with nested function calls needs 2.1 or
later. Microsoft's page says that in earlier versions such a filter "either throws an error or
returns an undefined result"; the emulator picks the error (400), so a client that forgets the
version fails its tests instead of silently filtering wrong in production.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from bc_emulator.errors import bad_request
from bc_emulator.odata_filter import Node
from bc_emulator.odata_filter import nested_calls
from bc_emulator.odata_filter import parse_filter

_KNOWN = {"$filter", "$top", "$skip", "$select", "$expand", "$orderby", "$skiptoken"}
_IGNORED = {"$schemaversion", "$format", "$count"}
_URL_SAFE = "$(),'"
# The first schema version that takes nested function calls in $filter.
NESTED_CALLS_SCHEMA = (2, 1)


@dataclass(frozen=True)
class ExpandItem:
    """One ``$expand`` entry with its nested ``$select`` (if any)."""

    name: str
    select: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SkipToken:
    """Decoded ``$skiptoken``: after insertion ``seq`` or at ``offset``; ``returned`` so far."""

    seq: int | None = None
    offset: int | None = None
    returned: int = 0

    def encode(self) -> str:
        """Opaque URL-safe form."""
        raw = json.dumps({"k": self.seq, "o": self.offset, "n": self.returned}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text: str) -> SkipToken:
        """Parse a token this emulator produced."""
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
            return SkipToken(seq=raw["k"], offset=raw["o"], returned=int(raw["n"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise bad_request(f"The skip token '{text}' is not valid.") from exc


@dataclass(frozen=True)
class Query:
    """Parsed query options of one request."""

    filter: Node | None = None
    filter_text: str | None = None
    top: int | None = None
    skip: int = 0
    select: tuple[str, ...] | None = None
    expand: tuple[ExpandItem, ...] = ()
    orderby: tuple[tuple[str, bool], ...] = ()
    skiptoken: SkipToken | None = None
    passthrough: dict[str, str] = field(default_factory=dict)


def _non_negative(name: str, text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise bad_request(f"Invalid value '{text}' for {name} query option found.")
    return int(text)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _parse_expand(text: str) -> tuple[ExpandItem, ...]:
    items = []
    for part in _split_top_level(text):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", part)
        if not match:
            raise bad_request(f"Syntax error in $expand '{text}'.")
        select = None
        for option in (match.group(2) or "").split(";"):
            key, _, value = option.partition("=")
            if key.strip() == "$select":
                select = tuple(v.strip() for v in value.split(",") if v.strip())
        items.append(ExpandItem(match.group(1), select))
    return tuple(items)


def _parse_orderby(text: str) -> tuple[tuple[str, bool], ...]:
    out = []
    for part in _split_top_level(text):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_request(f"Syntax error in $orderby '{text}'.")
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(out)


def _schema_version(text: str | None) -> tuple[int, ...]:
    """``$schemaversion`` as numbers; absent or unreadable counts as a version before 2.1."""
    if text is None or not re.fullmatch(r"\d+(?:\.\d+)*", text.strip()):
        return (1, 0)
    return tuple(int(part) for part in text.strip().split("."))


def _parse_filter(args: MultiDict[str, str]) -> Node | None:
    text = args.get("$filter")
    if not text:
        return None
    node = parse_filter(text)
    if nested_calls(node) and _schema_version(args.get("$schemaversion")) < NESTED_CALLS_SCHEMA:
        raise bad_request(
            "Nested function calls in $filter are supported only with $schemaversion=2.1 or "
            f"later: '{text}'."
        )
    return node


def parse_query(args: MultiDict[str, str]) -> Query:
    """Parse the request's query string."""
    unknown = [k for k in args if k.startswith("$") and k not in _KNOWN | _IGNORED]
    if unknown:
        raise bad_request(f"The query parameter '{unknown[0]}' is not supported.")
    filter_text = args.get("$filter")
    select = args.get("$select")
    return Query(
        filter=_parse_filter(args),
        filter_text=filter_text,
        top=_non_negative("$top", args["$top"]) if "$top" in args else None,
        skip=_non_negative("$skip", args["$skip"]) if "$skip" in args else 0,
        select=tuple(s.strip() for s in select.split(",") if s.strip()) if select else None,
        expand=_parse_expand(args["$expand"]) if args.get("$expand") else (),
        orderby=_parse_orderby(args["$orderby"]) if args.get("$orderby") else (),
        skiptoken=SkipToken.decode(args["$skiptoken"]) if args.get("$skiptoken") else None,
        passthrough={k: v for k, v in args.items() if not k.startswith("$")},
    )


def max_page_size(prefer_header: str | None) -> int | None:
    """``odata.maxpagesize`` from a ``Prefer`` header, if present."""
    if not prefer_header:
        return None
    match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", prefer_header)
    return int(match.group(1)) if match else None


def next_link(url_base: str, args: MultiDict[str, str], token: SkipToken, top: int | None) -> str:
    """The absolute URL of the next page: same options minus ``$skip``, plus ``$skiptoken``."""
    params = [
        (key, value)
        for key, value in args.items(multi=True)
        if key not in ("$skip", "$skiptoken", "$top")
    ]
    if top is not None:
        params.append(("$top", str(top)))
    params.append(("$skiptoken", token.encode()))
    return url_base + "?" + urlencode(params, safe=_URL_SAFE)
