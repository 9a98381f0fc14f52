"""The gateways' guard: every command needs a caller's token and a grant for that command.

Installed on the app, not on blueprints, and denying by default: a route added later without an
entry in the gateway's permission table answers 403 to every caller, and an unknown URL answers
401 to a caller without a token, so nothing about the routes leaks to an anonymous scanner. Only
the blueprints named open (health probes, the webhooks that carry their own proof, the OpenAPI
description, the Prometheus metrics) skip it.

With a command port configured (``MLC_COMMAND_PORT``), commands answer only on that listener and
webhooks only on the main one, so a NetworkPolicy can admit the reconciler to one port and the
ingress controller to the other (NetworkPolicies see ports, not paths). The port is the local
end of the accepted socket, never the ``Host`` header, which the client controls. ``/metrics``
needs no token (Prometheus holds none, and it shows aggregates only) but is internal: with a
command port it answers there only, never on the public webhook port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask import request

from mlconnector.identity import AuthenticationFailed
from mlconnector.identity import Caller
from mlconnector.identity import IdentityUnavailable
from mlconnector.identity import TokenVerifier
from mlconnector.runtime import CommonSettings
from mlconnector.web import error_response
from mlconnector.web import note_refusal

logger = logging.getLogger(__name__)

OPEN_BLUEPRINTS = ("health", "openapi", "metrics")
# Open, but served on the command port only when there is one (404 on the webhook port).
INTERNAL_BLUEPRINTS = ("metrics",)
WEBHOOK_BLUEPRINT = "webhooks"


def listener_port(environ: Mapping[str, Any]) -> int | None:
    """The local port the request arrived on (gunicorn's socket), else the WSGI server port."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        try:
            return int(sock.getsockname()[1])
        except (OSError, IndexError, TypeError, ValueError):
            return None
    try:
        return int(environ.get("SERVER_PORT", ""))
    except ValueError:
        return None


def _unauthorized(message: str, error: str | None, realm: str) -> tuple[Response, int]:
    response, status = error_response(401, "unauthorized", message)
    challenge = f'Bearer realm="{realm}"'
    response.headers["WWW-Authenticate"] = f'{challenge}, error="{error}"' if error else challenge
    return response, status


def current_caller() -> Caller | None:
    """The authenticated caller of this request, if any."""
    caller: Caller | None = g.get("caller")
    return caller


def install_service_auth(
    app: Flask,
    *,
    verifier: TokenVerifier,
    common: CommonSettings,
    permissions: Mapping[str, str],
    realm: str,
    open_blueprints: Iterable[str] = OPEN_BLUEPRINTS,
) -> None:
    """Guard every request outside the open blueprints and the webhooks.

    ``permissions`` maps each command endpoint (``blueprint.view``) to the permission it needs;
    the callers' grants (``MLC_COMMAND_CALLERS``) and the command port come from ``common``. The
    verifier reads the key set from the secret store on first use, not at start-up.
    """
    public = frozenset(open_blueprints)
    policy, command_port = common.command_callers, common.command_port

    @app.before_request
    def _guard() -> tuple[Response, int] | None:
        blueprint = request.blueprint if request.routing_exception is None else None
        on_command_port = (
            command_port is not None and listener_port(request.environ) == command_port
        )
        if blueprint in INTERNAL_BLUEPRINTS and command_port is not None and not on_command_port:
            return error_response(404, "not_found", "the requested URL was not found")
        if blueprint in public:
            return None
        if blueprint == WEBHOOK_BLUEPRINT:
            if on_command_port:
                return error_response(404, "not_found", "webhooks are not served on this port")
            return None
        if command_port is not None and not on_command_port:
            # Commands exist only on the command listener; here they look like any unknown URL.
            return error_response(404, "not_found", "the requested URL was not found")
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            note_refusal("no service token")
            return _unauthorized("a service token is required", None, realm)
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("a service token is required", "invalid_request", realm)
        try:
            caller = verifier.verify(token)
        except AuthenticationFailed as exc:
            note_refusal(str(exc))
            return _unauthorized(str(exc), exc.error, realm)
        except IdentityUnavailable as exc:
            logger.error("cannot check service tokens: %s", exc)
            response, status = error_response(503, "identity_unavailable", str(exc))
            response.headers["Retry-After"] = "5"
            return response, status
        g.caller = caller
        if request.routing_exception is not None:
            return None  # an authenticated caller learns the real 404/405
        needed = permissions.get(request.endpoint or "")
        if needed is None or not policy.allows(caller.subject, needed):
            note_refusal(f"caller {caller.subject} lacks {needed or 'a declared permission'}")
            return error_response(
                403,
                "forbidden",
                f"caller {caller.subject!r} may not use this command",
                permission=needed or "(none declared)",
            )
        return None
