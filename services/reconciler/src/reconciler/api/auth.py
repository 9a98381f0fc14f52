"""Bearer-token authentication for every endpoint but the health probes (``/healthz``, ``/readyz``).

The guard is installed on the app, not on each blueprint, and denies by default: a blueprint
added later is protected without anyone remembering to, and an unknown URL answers 401 to a
caller without the token rather than revealing which routes exist.

The token is the ``replay_token`` from the secret store (``ml-connector/reconciler``), compared in
constant time with ``hmac.compare_digest``. A missing or wrong token is a 401 with
``WWW-Authenticate: Bearer`` (RFC 6750), logged once at WARNING by ``mlconnector.web`` with the
reason noted here; the token itself is never logged or echoed.

One token for now guards both reading and replaying. reliability.md §6.7 asks for more: a
company IdP (OIDC/JWT) or mTLS instead of a static shared secret (API2), and a replay role
distinct from read access (API5). Those are future work; until then the API must stay off the
public ingress and the token is rotated through the secret store.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping

from flask import Flask
from flask import Response
from flask import request

from mlconnector.web import error_response
from mlconnector.web import note_refusal

REALM = "reconciler"

TokenSource = Callable[[], str | None]


def _challenge(error: str | None) -> str:
    challenge = f'Bearer realm="{REALM}"'
    return f'{challenge}, error="{error}"' if error else challenge


def _unauthorized(message: str, error: str | None) -> tuple[Response, int]:
    response, status = error_response(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = _challenge(error)
    return response, status


def check_bearer(expected: str | None, header: str | None) -> tuple[Response, int] | None:
    """None if ``header`` carries the expected token; otherwise the 401 answer to send."""
    if not header:
        note_refusal("no bearer token")
        return _unauthorized("a bearer token is required", None)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        note_refusal("the Authorization header is not a bearer token")
        return _unauthorized("a bearer token is required", "invalid_request")
    # An empty configured token must never match an empty one: refuse everything instead.
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        note_refusal("wrong bearer token")
        return _unauthorized("the bearer token is not valid", "invalid_token")
    return None


def require_bearer_token(
    app: Flask,
    token: TokenSource,
    *,
    open_blueprints: Iterable[str] = ("health",),
    own_guards: Mapping[str, str] | None = None,
) -> None:
    """Guard every request outside ``open_blueprints``: without the token no view runs.

    ``own_guards`` maps a path prefix to the blueprint that authenticates its requests by its
    own means (the review console signs people in with sessions). A request under such a
    prefix that matches no route is that blueprint's to answer (a 404 page for a person's
    browser), not a request for a bearer token; one routed elsewhere is checked as usual.
    """
    public = frozenset(open_blueprints)
    prefixes = {
        prefix.rstrip("/"): name for prefix, name in (own_guards or {}).items() if name in public
    }

    def _own_guard_path(path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in prefixes)

    @app.before_request
    def _authenticate() -> tuple[Response, int] | None:
        # ``blueprints`` names a nested blueprint's parents too (``console.queue``: console).
        if public.intersection(request.blueprints) and request.routing_exception is None:
            return None
        if request.routing_exception is not None and _own_guard_path(request.path):
            return None
        return check_bearer(token(), request.headers.get("Authorization"))
