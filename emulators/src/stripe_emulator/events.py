"""Events: created by every state change, listed/retrieved over the API, fanned out to webhooks.

`emit` snapshots the object (rendered like a GET), stores an `evt_` event with the account's
`api_version`, the originating `request{id, idempotency_key}` and `pending_webhooks`, and
queues one delivery per enabled endpoint subscribed to the type (`*` = all). The body sent to
an endpoint carries that endpoint's `api_version` (or the account default). Listing honours
`type` (with `*` wildcards such as `invoice.*`), `types[]`, `created`, `delivery_success` and
the 30-day retention window measured on the emulator clock (stripe-api.md §9).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from flask import Blueprint
from flask import g
from flask import has_request_context
from flask import request

from .errors import param_invalid
from .errors import resource_missing
from .forms import Params
from .ids import new_id
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record
from .store import public

bp = Blueprint("events", __name__, url_prefix="/v1/events")


def previous_attributes(before: Record, after: Record) -> dict[str, Any]:
    """Top-level fields whose value changed, with their old values (for `*.updated`)."""
    return {
        key: value
        for key, value in public(before).items()
        if key not in ("lines",) and after.get(key) != value
    }


def subscribed(endpoint: Record, event_type: str) -> bool:
    enabled = endpoint["enabled_events"]
    return "*" in enabled or event_type in enabled


def emit(
    state: EmulatorState,
    event_type: str,
    record: Record,
    previous: dict[str, Any] | None = None,
) -> Record:
    """Store an event for `record` and queue its webhook deliveries (state lock held)."""
    api_request = has_request_context() and request.path.startswith("/v1/")
    endpoints = [
        e
        for e in state.store.all("webhook_endpoint", newest_first=False)
        if not e.get("deleted") and e["status"] == "enabled" and subscribed(e, event_type)
    ]
    event: Record = {
        "id": new_id("event"),
        "object": "event",
        "account": None,
        "api_version": state.config.api_version,
        "context": None,
        "created": state.clock.now(),
        "data": {"object": render(state, record), "previous_attributes": previous},
        "livemode": False,
        "pending_webhooks": len(endpoints),
        "request": {
            "id": g.request_id if api_request else None,
            "idempotency_key": getattr(g, "idempotency_key", None) if api_request else None,
        },
        "type": event_type,
        "_pending": [e["id"] for e in endpoints],
    }
    state.store.add("event", event)
    if state.dispatcher is not None:
        for endpoint in endpoints:
            payload = public(event)
            payload["api_version"] = endpoint["api_version"] or state.config.api_version
            body = json.dumps(payload, indent=2).encode()
            state.dispatcher.enqueue(event["id"], event_type, endpoint["id"], endpoint["url"], body)
    return event


def _retained(state: EmulatorState, event: Record) -> bool:
    horizon = state.clock.now() - state.config.event_retention_days * 86400
    return int(event["created"]) >= horizon


@bp.get("")
def list_events() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known((*common_list_params(), "type", "types", "delivery_success"))
    type_filter = params.string("type")
    types = params.strings("types")
    if type_filter and types:
        raise param_invalid("types", "You may only specify one of these parameters: type, types.")
    if len(types) > 20:
        raise param_invalid("types", "You can specify at most 20 event types.")
    created = range_filter(params, "created")
    success = params.boolean("delivery_success")

    def keep(event: Record) -> bool:
        if not _retained(state, event) or not created(int(event["created"])):
            return False
        if type_filter and not fnmatch.fnmatchcase(event["type"], type_filter):
            return False
        if types and event["type"] not in types:
            return False
        return success is None or (event["pending_webhooks"] == 0) == success

    records = [e for e in state.store.all("event") if keep(e)]
    return paginate(
        state.store,
        "event",
        records,
        params,
        "/v1/events",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<event_id>")
def retrieve_event(event_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    event = state.store.get("event", event_id)
    if event is None or not _retained(state, event):
        raise resource_missing("event", event_id, "id")
    return render(state, event, expand_paths(params))
