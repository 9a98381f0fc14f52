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

from stripe_gateway.bootstrap import Dependencies


def dependencies() -> Dependencies:
    """The app's dependencies (set by ``create_app``)."""
    deps: Dependencies = current_app.extensions["stripe_gateway"]
    return deps


def json_body() -> Any:
    """The request's JSON (a non-JSON body is a 400/415 from Flask, rendered as JSON)."""
    return request.get_json()


def dump(schema: Schema, obj: Any) -> dict[str, object]:
    """``schema.dump`` typed for views."""
    result: dict[str, object] = schema.dump(obj)
    return result
