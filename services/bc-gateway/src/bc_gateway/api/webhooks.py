"""``/webhooks/bc``: the validation handshake and BC's notifications.

Status codes are chosen for BC's subscription-deletion rule (bc-api.md §7.6): BC retries only on
408, 429 and 5xx and deletes the subscription on anything else. So:

- ``?validationToken=...`` (GET or POST, the verb is unverified): 200 with the token echoed as
  ``text/plain`` (at most 1,024 characters; a longer one gets 400, which only fails that
  handshake).
- A body that is not JSON or has no ``value[]`` list: 400. Genuine BC never sends one, so this
  cannot cost a real subscription.
- A missing or wrong ``clientState`` in any element: 401, nothing published (a forgery; a
  misconfigured clientState would also land here, which is why rotation keeps the previous value).
- Everything durably queued: 202.
- Any internal failure -- broker down or not confirming, secret store unreachable, BC or Entra
  failing while a collection is expanded, missing configuration -- 503 with ``Retry-After``, so
  BC tries again later. An unexpected exception leaves as the generic 500, still a 5xx.

Each refusal (4xx) is logged once, at WARNING, by ``mlconnector.web`` and counted by
``mlconnector.metrics_export`` (``mlc_webhooks_refused_total{source="bc", reason=...}``); this
view only notes why.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.token import TokenError
from bc_gateway.api import dependencies
from bc_gateway.api import ok
from bc_gateway.notifications import MalformedPayload
from bc_gateway.webhook import ForgedNotification
from bc_gateway.webhook import accept_notifications
from mlconnector.bus import PublishError
from mlconnector.config import ConfigError
from mlconnector.logging import new_correlation_id
from mlconnector.secrets import SecretStoreError
from mlconnector.web import error_response
from mlconnector.web import note_refusal

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

MAX_VALIDATION_TOKEN = 1024
RETRY_AFTER_S = "10"
_INTERNAL = (PublishError, SecretStoreError, BCError, TokenError, ConfigError)


def _handshake(token: str) -> tuple[Response, int] | Response:
    if not token or len(token) > MAX_VALIDATION_TOKEN:
        note_refusal("validation token missing or too long", kind="handshake")
        return error_response(400, "bad_validation_token", "validation token missing or too long")
    response = Response(token, status=200, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/webhooks/bc", methods=["GET", "POST"])
def bc_webhook() -> tuple[Response, int] | Response:
    """Handshake or notifications (see the module docstring for every status)."""
    if "validationToken" in request.args:
        return _handshake(request.args.get("validationToken", ""))
    if request.method == "GET":
        return error_response(400, "bad_request", "expected ?validationToken= or a POST")
    deps = dependencies()
    try:
        accepted = accept_notifications(
            request.get_data(),
            client_states=deps.client_states,
            publish=deps.publish,
            bc=deps.bc,
            correlation_id=g.get("correlation_id") or new_correlation_id(),
        )
    except MalformedPayload as exc:
        note_refusal(str(exc), kind="malformed")
        return error_response(400, "bad_request", str(exc))
    except ForgedNotification:
        note_refusal("a notification carries a missing or wrong clientState", kind="client_state")
        return error_response(401, "unauthorized", "notification refused")
    except _INTERNAL as exc:
        logger.warning("BC notification not accepted, BC will retry: %s", exc)
        response, status = error_response(503, "unavailable", "try again later")
        response.headers["Retry-After"] = RETRY_AFTER_S
        return response, status
    logger.info(
        "accepted %d BC notification(s), published %d message(s), skipped %d",
        accepted.received,
        accepted.published,
        accepted.skipped,
    )
    # 202 only now: every message is confirmed by the broker.
    return ok({"received": accepted.received, "published": accepted.published}, 202)
