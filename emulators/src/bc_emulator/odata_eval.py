"""``$filter`` type checking and evaluation against one record, as BC's OData layer does it.

A literal must match the property's EDM type (``id eq '...'`` with a quoted GUID is refused with
BC's "incompatible types" message), ``or`` across different properties is refused (bc-api.md
§6.1), and Code properties compare case-sensitively unless ``code_filter_case_insensitive`` is
set. :func:`equality_constraints` exposes ``prop eq literal`` terms joined by ``and`` so entity
sets can enforce required filters (``journalId``, ``documentId``) and select templates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bc_emulator.edm import Field
from bc_emulator.edm import T
from bc_emulator.errors import bad_request
from bc_emulator.odata_filter import BoolOp
from bc_emulator.odata_filter import Call
from bc_emulator.odata_filter import Compare
from bc_emulator.odata_filter import Node
from bc_emulator.odata_filter import Not

_LITERAL_KIND = {
    T.GUID: "guid",
    T.STRING: "str",
    T.CODE: "str",
    T.ENUM: "str",
    T.DECIMAL: "number",
    T.INT: "number",
    T.INT64: "number",
    T.DATE: "date",
    T.DATETIME: "datetime",
    T.BOOL: "bool",
}
_LITERAL_EDM = {
    "guid": "Edm.Guid",
    "str": "Edm.String",
    "number": "Edm.Decimal",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
    "bool": "Edm.Boolean",
}


def check(node: Node, fields: dict[str, Field], entity_type: str) -> None:
    """Validate property names, literal types and the ``or`` restriction."""
    if isinstance(node, BoolOp):
        check(node.left, fields, entity_type)
        check(node.right, fields, entity_type)
        if node.op == "or" and len(referenced(node.left) | referenced(node.right)) > 1:
            raise bad_request(
                "The 'OR' operator is not supported on distinct fields on an OData filter."
            )
        return
    if isinstance(node, Not):
        check(node.inner, fields, entity_type)
        return
    field = fields.get(node.prop.name)
    if field is None:
        raise bad_request(
            f"Could not find a property named '{node.prop.name}' on type "
            f"'Microsoft.NAV.{entity_type}'."
        )
    wanted = _LITERAL_KIND[field.type]
    if node.literal.kind != wanted:
        op = node.op if isinstance(node, Compare) else node.func
        raise bad_request(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{field.type.edm}' and '{_LITERAL_EDM[node.literal.kind]}' for operator kind '{op}'."
        )


def referenced(node: Node) -> set[str]:
    """Property names used in an expression."""
    if isinstance(node, BoolOp):
        return referenced(node.left) | referenced(node.right)
    if isinstance(node, Not):
        return referenced(node.inner)
    return {node.prop.name}


def equality_constraints(node: Node | None) -> dict[str, Any]:
    """``prop eq literal`` terms reachable through ``and`` only (for required-filter checks)."""
    if node is None:
        return {}
    if isinstance(node, BoolOp) and node.op == "and":
        return {**equality_constraints(node.left), **equality_constraints(node.right)}
    if isinstance(node, Compare) and node.op == "eq" and node.prop.case is None:
        return {node.prop.name: node.literal.value}
    return {}


Getter = Callable[[str], Any]


def evaluate(node: Node, get: Getter, fields: dict[str, Field], fold_code: bool) -> bool:
    """Evaluate an already-checked expression against one record."""
    if isinstance(node, BoolOp):
        if node.op == "and":
            return evaluate(node.left, get, fields, fold_code) and evaluate(
                node.right, get, fields, fold_code
            )
        return evaluate(node.left, get, fields, fold_code) or evaluate(
            node.right, get, fields, fold_code
        )
    if isinstance(node, Not):
        return not evaluate(node.inner, get, fields, fold_code)
    field = fields[node.prop.name]
    value = get(node.prop.name)
    literal = node.literal.value
    if field.type in (T.STRING, T.CODE, T.ENUM):
        value, literal = _fold(str(value), str(literal), node.prop.case, field, fold_code)
    elif field.type is T.GUID:
        value = str(value).lower()
    if isinstance(node, Call):
        return _string_call(node.func, str(value), str(literal))
    return _compare(node.op, value, literal)


def _fold(
    value: str, literal: str, case: str | None, field: Field, fold_code: bool
) -> tuple[str, str]:
    if case == "tolower":
        return value.lower(), literal
    if case == "toupper":
        return value.upper(), literal
    if fold_code and field.type is T.CODE:
        return value, literal.upper()
    return value, literal


def _string_call(func: str, value: str, literal: str) -> bool:
    if func == "startswith":
        return value.startswith(literal)
    if func == "endswith":
        return value.endswith(literal)
    return literal in value


def _compare(op: str, value: Any, literal: Any) -> bool:
    if op == "eq":
        return bool(value == literal)
    if op == "ne":
        return bool(value != literal)
    if op == "gt":
        return bool(value > literal)
    if op == "ge":
        return bool(value >= literal)
    if op == "lt":
        return bool(value < literal)
    return bool(value <= literal)
