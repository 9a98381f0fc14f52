"""Webhook endpoints (`/v1/webhook_endpoints`) and the secret-roll helper.

The `whsec_` secret appears only in the creation response (stripe-api.md §9); `api_version`
is fixed at creation (an update naming it is `parameter_unknown`, as in the SDK's update
params). `roll_secret` (control surface only: Stripe rolls secrets in the Dashboard) adds a
new secret and keeps the old one valid until `expires_in` seconds of emulator time have
passed, so deliveries during the overlap carry two `v1` signatures.
"""

from __future__ import annotations

import re

from flask import Blueprint
from flask import g

from .errors import param_invalid
from .forms import Params
from .forms import merge_metadata
from .ids import new_id
from .ids import random_token
from .listing import expand_paths
from .listing import paginate
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("webhook_endpoints", __name__, url_prefix="/v1/webhook_endpoints")

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_EVENT_NAME = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)+)$")


def new_secret() -> str:
    return f"whsec_{random_token(32)}"


def _url(params: Params, *, required: bool) -> str | None:
    url = params.string("url", required=required)
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise param_invalid("url", f"Invalid URL: {url}", "url_invalid")
    return url


def _events(params: Params, *, required: bool) -> list[str] | None:
    if "enabled_events" not in params and not required:
        return None
    events = params.strings("enabled_events", required=True)
    for i, name in enumerate(events):
        if not _EVENT_NAME.match(name):
            raise param_invalid(f"enabled_events[{i}]", f"Invalid enabled_events[{i}]: {name}")
    return events


@bp.post("")
def create_endpoint() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(
        ("url", "enabled_events", "api_version", "connect", "description", "metadata", "expand")
    )
    url = _url(params, required=True)
    events = _events(params, required=True)
    version = params.string("api_version")
    if version is not None and not _VERSION.match(version):
        raise param_invalid("api_version", f"Invalid api_version: {version}")
    if params.boolean("connect"):
        raise param_invalid(
            "connect", "Connect webhook endpoints are not supported by the emulator."
        )
    secret = new_secret()
    endpoint: Record = {
        "id": new_id("webhook_endpoint"),
        "object": "webhook_endpoint",
        "api_version": version,
        "application": None,
        "created": state.clock.now(),
        "description": params.text("description"),
        "enabled_events": events,
        "livemode": False,
        "metadata": merge_metadata({}, params.metadata()),
        "status": "enabled",
        "url": url,
        "_secrets": [(secret, None)],
    }
    state.store.add("webhook_endpoint", endpoint)
    body = render(state, endpoint, expand_paths(params))
    body["secret"] = secret
    return body


@bp.get("")
def list_endpoints() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("limit", "starting_after", "ending_before", "expand"))
    records = [e for e in state.store.all("webhook_endpoint") if not e.get("deleted")]
    return paginate(
        state.store,
        "webhook_endpoint",
        records,
        params,
        "/v1/webhook_endpoints",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<endpoint_id>")
def retrieve_endpoint(endpoint_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    endpoint = state.store.require("webhook_endpoint", endpoint_id, "webhook_endpoint")
    return render(state, endpoint, expand_paths(params))


@bp.post("/<endpoint_id>")
def update_endpoint(endpoint_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("url", "enabled_events", "disabled", "description", "metadata", "expand"))
    endpoint = state.store.require("webhook_endpoint", endpoint_id, "webhook_endpoint")
    url = _url(params, required=False)
    events = _events(params, required=False)
    disabled = params.boolean("disabled")
    if url is not None:
        endpoint["url"] = url
    if events is not None:
        endpoint["enabled_events"] = events
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    if "description" in params:
        endpoint["description"] = params.text("description")
    endpoint["metadata"] = merge_metadata(endpoint["metadata"], params.metadata())
    return render(state, endpoint, expand_paths(params))


@bp.delete("/<endpoint_id>")
def delete_endpoint(endpoint_id: str) -> Record:
    state = get_state()
    endpoint = state.store.require("webhook_endpoint", endpoint_id, "webhook_endpoint")
    endpoint["deleted"] = True
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def roll_secret(state: EmulatorState, endpoint_id: str, expires_in: int) -> str:
    """Add a new secret; the current ones stay valid for `expires_in` seconds (0 = now)."""
    endpoint = state.store.require("webhook_endpoint", endpoint_id, "webhook_endpoint")
    now = state.clock.now()
    expiry = now + expires_in
    kept = [(s, min(e, expiry) if e is not None else expiry) for s, e in endpoint["_secrets"]]
    secret = new_secret()
    endpoint["_secrets"] = [(secret, None)] + [(s, e) for s, e in kept if e > now]
    return secret
