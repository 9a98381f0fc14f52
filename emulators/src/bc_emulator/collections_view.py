"""GET on an entity set: ``$filter``, ``$orderby``, ``$skip``/``$top``, ``$select``/``$expand``
and server-driven paging with ``@odata.nextLink`` and ``Preference-Applied``.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import request

from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import bad_request
from bc_emulator.http_utils import json_response
from bc_emulator.odata_eval import check
from bc_emulator.odata_eval import equality_constraints
from bc_emulator.odata_eval import evaluate
from bc_emulator.odata_filter import Node
from bc_emulator.odata_query import Query
from bc_emulator.odata_query import SkipToken
from bc_emulator.odata_query import max_page_size
from bc_emulator.odata_query import next_link
from bc_emulator.odata_query import parse_query


def check_expand(entity_set: EntitySet, query: Query) -> list[tuple[str, tuple[str, ...] | None]]:
    """Validate ``$select`` / ``$expand`` and return the expansions to apply."""
    if query.select is not None:
        entity_set.check_select(query.select)
    out = []
    for item in query.expand:
        if item.name not in entity_set.expansions:
            raise bad_request(
                f"Could not find a property named '{item.name}' on type "
                f"'Microsoft.NAV.{entity_set.entity_type}'."
            )
        child = entity_set.children.get(item.name)
        if child is not None and item.select is not None:
            child.check_select(item.select)
        out.append((item.name, item.select))
    return out


def _sorted(entity_set: EntitySet, scope: Scope, rows: list[Any], query: Query) -> list[Any]:
    if not query.orderby:
        return sorted(rows, key=entity_set.seq_of)
    entity_set.check_select(name for name, _ in query.orderby)
    for name, descending in reversed(query.orderby):

        def key(rec: Any, prop: str = name) -> Any:
            return entity_set.get(scope, rec, prop)

        rows = sorted(rows, key=key, reverse=descending)
    return rows


def _matches(entity_set: EntitySet, scope: Scope, rec: Any, node: Node, fold: bool) -> bool:
    def get(name: str) -> Any:
        return entity_set.get(scope, rec, name)

    return evaluate(node, get, entity_set.by_name, fold)


def list_collection(
    entity_set: EntitySet, scope: Scope, context: str, query: Query | None = None
) -> Response:
    """Answer a collection GET."""
    query = query or parse_query(request.args)
    expand = check_expand(entity_set, query)
    if query.filter is not None:
        check(query.filter, entity_set.by_name, entity_set.entity_type)
    scope.constraints = equality_constraints(query.filter)
    entity_set.check_collection(scope)
    rows = list(entity_set.rows(scope))
    if query.filter is not None:
        node = query.filter
        fold = scope.config.code_filter_case_insensitive
        rows = [r for r in rows if _matches(entity_set, scope, r, node, fold)]
    rows = _sorted(entity_set, scope, rows, query)
    token = query.skiptoken
    if token is not None and token.seq is not None:
        rows = [r for r in rows if entity_set.seq_of(r) > token.seq]
        start = 0
    else:
        start = token.offset or 0 if token is not None else query.skip
        rows = rows[start:]
    returned = token.returned if token is not None else 0
    requested = max_page_size(request.headers.get("Prefer"))
    server_max = scope.config.max_page_size
    page_size = min(requested, server_max) if requested else server_max
    limit = page_size if query.top is None else min(page_size, max(query.top - returned, 0))
    page = rows[:limit]
    body: dict[str, Any] = {
        "@odata.context": context,
        "value": [entity_set.serialize(scope, r, query.select, expand) for r in page],
    }
    more = len(rows) > limit and (query.top is None or returned + limit < query.top)
    if more and page:
        if query.orderby:
            next_token = SkipToken(offset=start + len(page), returned=returned + len(page))
        else:
            next_token = SkipToken(seq=entity_set.seq_of(page[-1]), returned=returned + len(page))
        body["@odata.nextLink"] = next_link(request.base_url, request.args, next_token, query.top)
    headers = {}
    if requested:
        headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
    return json_response(body, headers=headers)
