"""Stripe's search query language (stripe-api.md §4): parse once, evaluate per snapshot.

Clauses are `field op value` with `:` (exact), `~` (substring, at least 3 characters), and
`>`, `<`, `>=`, `<=` on numeric fields; `metadata['key']` addresses metadata; a leading `-`
negates; clauses join with spaces/`AND` or with `OR`, never both. String comparisons are
case-insensitive (the emulator's reading; Stripe's page does not state it), metadata values
compare exactly. `field:null` matches a missing value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import param_invalid

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<neg>-)?(?P<field>metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_][a-z0-9_.]*)
        (?P<op>>=|<=|:|~|>|<)
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)
      | (?P<conj>AND|OR)(?=\s)
    )""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class Clause:
    field: str
    metadata_key: str | None
    op: str
    value: str | None
    negate: bool


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    any_of: bool


def _fail(query: str) -> Exception:
    return param_invalid(
        "query",
        f"We were unable to parse your search query. Query: {query}. Try using the format "
        "`metadata['key']:'value'` or `email:'jane@example.com'`.",
    )


def parse(query: str, fields: Mapping[str, str]) -> Query:
    """Parse against the kind's field types (`string`, `number`, `metadata`)."""
    pos, clauses, conjunctions = 0, [], set()
    text = query.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _fail(query)
        pos = match.end()
        if match.group("conj"):
            conjunctions.add(match.group("conj").upper())
            continue
        clauses.append(_clause(query, match, fields))
    if not clauses or len(conjunctions) > 1:
        raise _fail(query)
    return Query(tuple(clauses), any_of=conjunctions == {"OR"})


def _clause(query: str, match: re.Match[str], fields: Mapping[str, str]) -> Clause:
    field, op, raw = match.group("field"), match.group("op"), match.group("value")
    metadata_key = None
    if field.lower().startswith("metadata["):
        metadata_key, field = field[10:-2], "metadata"
    if field not in fields or (field == "metadata") != (metadata_key is not None):
        raise _fail(query)
    if raw[0] in "'\"":
        value: str | None = re.sub(r"\\(.)", r"\1", raw[1:-1])
    elif raw.lower() == "null":
        value = None
    else:
        value = raw
    kind = fields[field]
    if op in (">", "<", ">=", "<=") and (kind != "number" or value is None):
        raise _fail(query)
    if op == "~" and (kind == "number" or value is None or len(value) < 3):
        raise _fail(query)
    if kind == "number" and value is not None and not re.fullmatch(r"-?\d+", value):
        raise _fail(query)
    return Clause(field, metadata_key, op, value, bool(match.group("neg")))


def matches(query: Query, snapshot: Mapping[str, Any], fields: Mapping[str, str]) -> bool:
    results = [_eval(c, snapshot, fields[c.field]) != c.negate for c in query.clauses]
    return any(results) if query.any_of else all(results)


def _eval(clause: Clause, snapshot: Mapping[str, Any], kind: str) -> bool:
    if clause.metadata_key is not None:
        actual = (snapshot.get("metadata") or {}).get(clause.metadata_key)
    else:
        actual = snapshot.get(clause.field)
    if clause.value is None:
        return actual is None or actual == ""
    if actual is None:
        return False
    if kind == "number":
        number, target = int(actual), int(clause.value)
        return {
            ":": number == target,
            ">": number > target,
            "<": number < target,
            ">=": number >= target,
            "<=": number <= target,
        }[clause.op]
    text = str(actual)
    target_text = clause.value
    if kind == "string":
        text, target_text = text.lower(), target_text.lower()
    if clause.op == "~":
        return target_text in text
    return text == target_text
