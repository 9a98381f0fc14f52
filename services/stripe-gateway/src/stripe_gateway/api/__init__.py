"""HTTP edge of stripe-gateway: the Stripe webhook and the reconciler's command API.

Each module is one resource with a blueprint named ``bp``; views load a marshmallow schema, call
one service function and dump the result (style.md §3.3). The command API is internal: it is
reached only from the reconciler, inside the cluster (NetworkPolicy), never through the ingress,
which exposes ``/webhooks/stripe`` alone.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import request
from marshmallow import Schema
from werkzeug.exceptions import UnsupportedMediaType

from mlconnector.jsonbody import request_json
from stripe_gateway.bootstrap import Dependencies


def dependencies() -> Dependencies:
    """The app's dependencies (set by ``create_app``)."""
    deps: Dependencies = current_app.extensions["stripe_gateway"]
    return deps


def json_body() -> Any:
    """The request's JSON: 415 without a JSON content type, 400 ``invalid_json`` naming the
    reason for a body that is not JSON or is hostile JSON (``mlconnector.jsonbody``)."""
    if not request.is_json:
        raise UnsupportedMediaType("the body must be JSON (Content-Type: application/json)")
    return request_json()


def dump(schema: Schema, obj: Any) -> dict[str, object]:
    """``schema.dump`` typed for views."""
    result: dict[str, object] = schema.dump(obj)
    return result
