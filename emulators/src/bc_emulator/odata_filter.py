"""``$filter`` parsing: tokens, syntax tree, literals as OData v4 writes them.

Grammar: comparisons (``eq ne gt ge lt le``) joined by ``and`` / ``or`` / ``not`` and parentheses,
plus ``startswith``/``endswith``/``contains`` and ``tolower``/``toupper``. Literals as OData v4
writes them: ``'text'`` (``''`` escapes a quote), unquoted GUIDs, ``2024-05-01``,
``2024-05-01T10:00:00.123Z``, numbers, ``true``/``false`` (plus the older ``guid'...'`` and
``datetime'...'`` forms). Type checks and evaluation live in ``odata_eval.py``.

A call that takes another call's result (``contains(tolower(customerName),'x')``) is a *nested*
call: BC takes those only from ``$schemaversion=2.1`` on (``nested_calls`` finds them; the check
is in ``odata_query``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bc_emulator.edm import GUID_RE
from bc_emulator.edm import parse_date
from bc_emulator.edm import parse_datetime
from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request

_TOKEN_RE = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<pfx>(?:guid|datetime|datetimeoffset)'[^']*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
  | (?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}\b)
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdD]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)

_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_STRING_FUNCS = {"startswith", "endswith", "contains"}
_CASE_FUNCS = {"tolower", "toupper"}


@dataclass(frozen=True)
class Literal:
    """A typed literal: kind is one of str, guid, datetime, date, number, bool."""

    kind: str
    value: Any


@dataclass(frozen=True)
class Prop:
    """A property reference, maybe in tolower/toupper (``nested``: one inside the other)."""

    name: str
    case: str | None = None
    nested: bool = False


@dataclass(frozen=True)
class Compare:
    """``prop op literal``."""

    prop: Prop
    op: str
    literal: Literal


@dataclass(frozen=True)
class Call:
    """``startswith(prop, 'x')`` and friends."""

    func: str
    prop: Prop
    literal: Literal


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two sub-expressions."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    """``not expr``."""

    inner: Node


Node = Compare | Call | BoolOp | Not


def _syntax(text: str, pos: int) -> BCError:
    return bad_request(f"Syntax error at position {pos} in '{text}'.")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise _syntax(text, pos)
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise _syntax(self.text, len(self.text))
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, text, at = self.take()
        if text.lower() != value:
            raise _syntax(self.text, at)

    def parse(self) -> Node:
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            raise _syntax(self.text, token[2])
        return node

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.keyword("or"):
            node = BoolOp("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while self.keyword("and"):
            node = BoolOp("and", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.keyword("not"):
            return Not(self.unary())
        token = self.peek()
        if token and token[1] == "(":
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        return self.predicate()

    def predicate(self) -> Node:
        kind, text, at = self.take()
        if kind == "name" and text.lower() in _STRING_FUNCS:
            self.expect("(")
            prop = self.prop()
            self.expect(",")
            literal = self.literal()
            self.expect(")")
            return Call(text.lower(), prop, literal)
        self.pos -= 1
        prop = self.prop()
        op_kind, op, op_at = self.take()
        if op_kind != "name" or op.lower() not in _COMPARISONS:
            raise _syntax(self.text, op_at)
        return Compare(prop, op.lower(), self.literal())

    def prop(self) -> Prop:
        kind, text, at = self.take()
        if kind != "name":
            raise _syntax(self.text, at)
        if text.lower() in _CASE_FUNCS:
            self.expect("(")
            inner = self.prop()
            self.expect(")")
            return Prop(inner.name, text.lower(), nested=inner.case is not None)
        return Prop(text)

    def literal(self) -> Literal:
        kind, text, at = self.take()
        if kind == "str":
            return Literal("str", text[1:-1].replace("''", "'"))
        if kind == "guid":
            return Literal("guid", text.lower())
        if kind == "pfx":
            prefix, _, rest = text.partition("'")
            return _prefixed(prefix.lower(), rest[:-1], self.text, at)
        if kind == "dt":
            value = parse_datetime(text)
            if value is None:
                raise _syntax(self.text, at)
            return Literal("datetime", value)
        if kind == "date":
            return Literal("date", parse_date(text))
        if kind == "num":
            return Literal("number", Decimal(text.rstrip("mMdD")))
        if kind == "name" and text.lower() in ("true", "false"):
            return Literal("bool", text.lower() == "true")
        raise _syntax(self.text, at)


def _prefixed(prefix: str, body: str, text: str, at: int) -> Literal:
    if prefix == "guid" and GUID_RE.match(body):
        return Literal("guid", body.lower())
    parsed = parse_datetime(body)
    if parsed is None:
        raise _syntax(text, at)
    return Literal("datetime", parsed)


def parse_filter(text: str) -> Node:
    """Parse a ``$filter`` expression."""
    return _Parser(text).parse()


def nested_calls(node: Node) -> bool:
    """Whether a function takes another function's result anywhere in the expression.

    ``startswith(tolower(name),'a')`` is nested, ``tolower(name) eq 'a'`` is not: BC documents
    nested calls as supported from ``$schemaversion=2.1`` on (dev-itpro/webservices/
    use-filter-expressions-in-odata-uris.md, "Nested function calls").
    """
    if isinstance(node, BoolOp):
        return nested_calls(node.left) or nested_calls(node.right)
    if isinstance(node, Not):
        return nested_calls(node.inner)
    if isinstance(node, Call):
        return node.prop.case is not None or node.prop.nested
    return node.prop.nested
