"""The BC API routes: ``/v2.0/[{tenant}/]{environment}/api/v2.0/...``.

One catch-all view parses the OData path into segments and walks the entity-set graph
(``companies({id})/<set>({key})/<navigation>/Microsoft.NAV.<action>``), so unknown segments get
BC's ``BadRequest_ResourceNotFound`` instead of a bare 404. Before any work the request passes
injected latency and faults, then the bearer-token check, then the per-user throttle. Entity
operations run under the store lock; ``subscriptions`` are handled separately because their
handshake makes an outbound call that must not hold the lock. ``$batch`` is parsed, admitted once
by the throttle and handed to batch.py, whose operations come back through this view.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from contextlib import nullcontext
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from bc_emulator.api_subscriptions import handle_subscriptions
from bc_emulator.auth import require_bearer
from bc_emulator.batch import run_batch
from bc_emulator.batch_request import batch_cost
from bc_emulator.batch_request import is_batch_operation
from bc_emulator.batch_request import parse_batch
from bc_emulator.collections_view import check_expand
from bc_emulator.collections_view import list_collection
from bc_emulator.entity_sets import EntitySet
from bc_emulator.entity_sets import Scope
from bc_emulator.errors import BCError
from bc_emulator.errors import not_found
from bc_emulator.errors import segment_not_found
from bc_emulator.http_utils import Segment
from bc_emulator.http_utils import api_path_parts
from bc_emulator.http_utils import check_if_match
from bc_emulator.http_utils import guid_key
from bc_emulator.http_utils import json_body
from bc_emulator.http_utils import json_response
from bc_emulator.http_utils import no_content
from bc_emulator.http_utils import parse_segments
from bc_emulator.odata_query import parse_query
from bc_emulator.state import Emulator
from bc_emulator.state import current_emulator
from bc_emulator.store import Environment
from bc_emulator.tokens import TokenInfo

bp = Blueprint("bc_api", __name__)
_METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT"]


def _split(rest: str) -> tuple[str | None, str, str, str]:
    """(tenant, environment, api prefix, odata path) from the part after ``/v2.0/``."""
    parts = api_path_parts(rest)
    if parts is not None:
        return parts
    raise BCError(
        404,
        "BadRequest_NotFound",
        f"No HTTP resource was found that matches the request URI '{request.url}'.",
    )


@bp.route("/v2.0/<path:rest>", methods=_METHODS)
def api(rest: str) -> Response:
    """Every API request, and every operation of a ``$batch``."""
    emu = current_emulator()
    inner = is_batch_operation()
    if inner:
        emu.batch_operations += 1
    else:
        emu.api_requests += 1
    emu.faults.apply("api")
    tenant, env_name, prefix, path = _split(rest)
    token = require_bearer(tenant)
    if path == "$batch":
        batch = parse_batch(emu.config)
        with emu.throttle.admit(token.client_id, batch_cost(emu.config, batch)):
            _delay(emu)
            _require_environment(emu, tenant or token.tenant, env_name)
            return run_batch(emu, token, batch)
    # A batch operation was counted with its batch and runs in the batch's concurrency slot.
    gate: AbstractContextManager[None] = (
        nullcontext() if inner else emu.throttle.admit(token.client_id)
    )
    with gate:
        if not inner:
            _delay(emu)
        env = _require_environment(emu, tenant or token.tenant, env_name)
        base = f"{request.host_url.rstrip('/')}/v2.0/{prefix}"
        segments = parse_segments(path)
        if not segments:
            raise segment_not_found("")
        if segments[0].name == "subscriptions":
            return handle_subscriptions(emu, env, segments, token, base)
        with emu.store.lock:
            return _dispatch(emu, env, segments, token, base)


def _delay(emu: Emulator) -> None:
    if emu.config.latency_ms:
        time.sleep(emu.config.latency_ms / 1000)  # processing time counts as concurrency


def _require_environment(emu: Emulator, tenant: str, name: str) -> Environment:
    env = _environment(emu, tenant, name)
    if env is None:
        raise BCError(404, "BadRequest_NotFound", f"The environment '{name}' does not exist.")
    return env


def _environment(emu: Emulator, tenant: str, name: str) -> Environment | None:
    """An existing environment, or one of the configured names for the token's tenant."""
    with emu.store.lock:
        env = emu.store.environment(tenant, name)
        if env is None and name.lower() in {e.lower() for e in emu.config.environments}:
            env = emu.store.ensure_environment(tenant, name)
        return env


def _lookup(entity_set: EntitySet, scope: Scope, key: str) -> Any:
    rec = entity_set.find(scope, guid_key(key))
    if rec is None:
        raise not_found(entity_set.caption, key)
    return rec


def _dispatch(
    emu: Emulator, env: Environment, segments: list[Segment], token: TokenInfo, base: str
) -> Response:
    scope = Scope(emu.store, env, emu.config, user_id=token.user_id)
    root = emu.registry.companies
    if segments[0].name != root.name:
        raise segment_not_found(segments[0].raw)
    current: EntitySet = root
    rec = _lookup(root, scope, segments[0].key) if segments[0].key is not None else None
    if rec is not None:
        scope.company = rec
    for index, seg in enumerate(segments[1:], start=1):
        if rec is None:
            raise segment_not_found(seg.raw)
        if seg.name.startswith("Microsoft.NAV.") and seg.key is None:
            action = current.actions.get(seg.name.removeprefix("Microsoft.NAV."))
            if action is None or index != len(segments) - 1:
                raise segment_not_found(seg.raw)
            if request.method != "POST":
                raise current.method_not_allowed(request.method)
            check_if_match(current.etag(rec), required=False)
            action(scope, rec)
            return no_content()
        child = current.children.get(seg.name)
        if child is None:
            raise segment_not_found(seg.raw)
        if current is not root:
            scope.parent = rec
        current, rec = child, None
        if seg.key is not None:
            rec = _lookup(child, scope, seg.key)
    path = "/".join(s.raw for s in segments)
    if rec is None:
        return _collection(emu, current, scope, f"{base}/$metadata#{path}")
    entity_path = "/".join([*(s.raw for s in segments[:-1]), segments[-1].name])
    return _entity(emu, current, scope, rec, f"{base}/$metadata#{entity_path}/$entity")


def _collection(emu: Emulator, entity_set: EntitySet, scope: Scope, context: str) -> Response:
    if request.method == "GET":
        return list_collection(entity_set, scope, context)
    if request.method != "POST" or "POST" not in entity_set.methods:
        raise entity_set.method_not_allowed(request.method)
    rec = entity_set.create(scope, json_body())
    headers = {
        "ETag": entity_set.etag(rec),
        "Location": f"{request.base_url}({entity_set.key_of(rec)})",
    }
    if "return=minimal" in (request.headers.get("Prefer") or ""):
        return no_content({**headers, "Preference-Applied": "return=minimal"})
    body = {"@odata.context": context + "/$entity", **entity_set.serialize(scope, rec)}
    return json_response(body, 201, headers)


def _entity(emu: Emulator, entity_set: EntitySet, scope: Scope, rec: Any, context: str) -> Response:
    method = request.method
    if method not in entity_set.methods or method == "POST":
        raise entity_set.method_not_allowed(method)
    if method == "DELETE":
        check_if_match(entity_set.etag(rec), emu.config.require_if_match_on_delete)
        entity_set.delete(scope, rec)
        return no_content()
    query = parse_query(request.args)
    expand = check_expand(entity_set, query)
    if method == "PATCH":
        check_if_match(entity_set.etag(rec), required=True)
        entity_set.update(scope, rec, json_body())
    body = {"@odata.context": context, **entity_set.serialize(scope, rec, query.select, expand)}
    return json_response(body, headers={"ETag": entity_set.etag(rec)})
