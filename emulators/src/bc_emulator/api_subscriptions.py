"""Views for ``subscriptions`` and ``subscriptions('{id}')`` (bc-api.md §7.1).

The store lock is held only around reads and writes of the subscription table; the validation
handshake (up to 5 s) runs without it, then the write re-checks the table (limit, ETag) before
committing.
"""

from __future__ import annotations

from flask import Response
from flask import request

from bc_emulator.errors import BCError
from bc_emulator.errors import dialog
from bc_emulator.errors import segment_not_found
from bc_emulator.http_utils import Segment
from bc_emulator.http_utils import check_if_match
from bc_emulator.http_utils import json_body
from bc_emulator.http_utils import json_response
from bc_emulator.http_utils import no_content
from bc_emulator.http_utils import string_key
from bc_emulator.state import Emulator
from bc_emulator.store import Environment
from bc_emulator.store import Subscription
from bc_emulator.subscriptions import check_url
from bc_emulator.subscriptions import etag
from bc_emulator.subscriptions import handshake
from bc_emulator.subscriptions import new_subscription
from bc_emulator.subscriptions import parse_body
from bc_emulator.subscriptions import parse_resource
from bc_emulator.subscriptions import purge_expired
from bc_emulator.subscriptions import renew
from bc_emulator.tokens import TokenInfo


def _entity(sub: Subscription) -> dict[str, object]:
    return {"@odata.etag": etag(sub), **sub.to_values()}


def _find(emu: Emulator, env: Environment, key: str) -> Subscription:
    with emu.store.lock:
        purge_expired(emu, env)
        sub = env.subscriptions.get(key)
    if sub is None:
        raise BCError(
            404,
            "Internal_RecordNotFound",
            f"The API Webhook Subscription does not exist. Identification fields and values: "
            f"Subscription Id='{key}'",
        )
    return sub


def handle_subscriptions(
    emu: Emulator, env: Environment, segments: list[Segment], token: TokenInfo, base: str
) -> Response:
    """Dispatch a subscriptions request."""
    if len(segments) > 1:
        raise segment_not_found(segments[1].raw)
    context = f"{base}/$metadata#subscriptions"
    method = request.method
    key = segments[0].key
    if key is None:
        if method == "GET":
            with emu.store.lock:
                purge_expired(emu, env)
                value = [_entity(s) for s in env.subscriptions.values()]
            return json_response({"@odata.context": context, "value": value})
        if method == "POST":
            return _create(emu, env, token, context)
        raise _not_allowed(method)
    sub = _find(emu, env, string_key(key))
    if method == "GET":
        return json_response(
            {"@odata.context": context + "/$entity", **_entity(sub)}, headers={"ETag": etag(sub)}
        )
    if method == "PATCH":
        return _renew(emu, env, sub, context)
    if method == "DELETE":
        with emu.store.lock:
            check_if_match(etag(sub), emu.config.require_if_match_on_delete)
            env.subscriptions.pop(sub.id, None)
        return no_content()
    raise _not_allowed(method)


def _not_allowed(method: str) -> BCError:
    return BCError(
        405,
        "BadRequest_MethodNotAllowed",
        f"'{method}' requests for 'subscriptions' of EdmType 'Entity' are not allowed within "
        "Microsoft Dynamics 365 Business Central OData web services.",
    )


def _create(emu: Emulator, env: Environment, token: TokenInfo, context: str) -> Response:
    fields = parse_body(json_body(), creating=True)
    check_url(emu, fields["notificationUrl"])
    with emu.store.lock:
        parse_resource(env, fields["resource"])
    handshake(emu, fields["notificationUrl"])
    with emu.store.lock:
        purge_expired(emu, env)
        if len(env.subscriptions) >= emu.config.max_subscriptions:
            raise dialog(
                f"The maximum number of webhook subscriptions ({emu.config.max_subscriptions}) "
                "has been reached."
            )
        sub = new_subscription(emu, env, fields, token.user_id)
        env.subscriptions[sub.id] = sub
        body = {"@odata.context": context + "/$entity", **_entity(sub)}
    return json_response(body, 201, {"ETag": etag(sub)})


def _renew(emu: Emulator, env: Environment, sub: Subscription, context: str) -> Response:
    check_if_match(etag(sub), required=True)
    fields = parse_body(json_body(allow_empty=True), creating=False)
    url = fields.get("notificationUrl", sub.notification_url)
    check_url(emu, url)
    if "resource" in fields:
        with emu.store.lock:
            parse_resource(env, fields["resource"])
    version = sub.version
    handshake(emu, url)
    with emu.store.lock:
        if env.subscriptions.get(sub.id) is not sub:
            raise BCError(
                404,
                "Internal_RecordNotFound",
                f"The API Webhook Subscription does not exist. Identification fields and values: "
                f"Subscription Id='{sub.id}'",
            )
        if sub.version != version:
            raise BCError(
                409, "Request_EntityChanged", "Another user has already changed the record."
            )
        renew(emu, sub, env, fields)
        body = {"@odata.context": context + "/$entity", **_entity(sub)}
    return json_response(body, headers={"ETag": etag(sub)})
