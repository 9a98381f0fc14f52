"""``POST /webhooks/stripe``: verify, publish with a broker confirm, and only then answer 2xx.

The steps, in order (style.md §3.5, reliability.md §6.1):

1. A body over ``MAX_CONTENT_LENGTH`` is refused with 413 before anything parses it. Werkzeug
   checks a declared ``Content-Length`` up front and caps a chunked body while it is read (the
   server marks such streams ``wsgi.input_terminated``), so both paths end in the same 413.
2. The signature is checked over the raw bytes of ``request.get_data()``, never re-serialised
   JSON, against every active secret; a missing, oversized or malformed header, a timestamp
   more than the tolerance away in either direction, or no matching ``v1`` all give the same
   400 with a generic message. The one WARNING line for the refusal (``mlconnector.web``) says
   which check failed, with the request id, but never the body, the header or a secret.
3. The body must be a JSON event (400 otherwise, naming the reason; it was signed, so this is
   Stripe's or a proxy's bug, not an attack, but retrying cannot fix it either). It is parsed
   by ``mlconnector.jsonbody``, so even a signed document nested thousands deep is a 400, not a
   ``RecursionError``.
4. Types outside ``HANDLED_EVENTS`` are acknowledged (200) and dropped: a 4xx would make Stripe
   retry for three days and eventually disable the endpoint.
5. The event is published as an ``Envelope`` whose message id is the event id; 200 only after
   the broker's confirm. Any ``PublishError`` is 503, so Stripe delivers again.

A replay of a valid delivery inside the window is published again: the reconciler de-duplicates
on the event id (its inbox table), which it must do anyway since Stripe itself sends duplicates.
Livemode: an event whose ``livemode`` differs from the API key's mode is still published (with
its ``livemode`` flag) and logged; the reconciler, which owns the decisions, can park it.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint
from flask import g
from flask import request

from mlconnector import jsonbody
from mlconnector.bus import PublishError
from mlconnector.web import ApiError
from mlconnector.web import note_refusal
from stripe_gateway.api import dependencies
from stripe_gateway.bootstrap import Dependencies
from stripe_gateway.envelopes import MalformedEvent
from stripe_gateway.envelopes import encode
from stripe_gateway.envelopes import event_envelope
from stripe_gateway.envelopes import event_type_of
from stripe_gateway.errors import RetryLater
from stripe_gateway.events import is_handled
from stripe_gateway.webhook_signature import SignatureRejected
from stripe_gateway.webhook_signature import verify

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

SIGNATURE_HEADER = "Stripe-Signature"


def _reject(reason: str, *, code: str, message: str, kind: str) -> ApiError:
    # mlconnector.web logs the refusal once, at WARNING, with this reason and the request id;
    # mlconnector.metrics_export counts it by ``kind`` (mlc_webhooks_refused_total{reason=kind}).
    note_refusal(f"stripe webhook rejected: {reason}", kind=kind)
    return ApiError(message, status_code=400, code=code)


def _verify(deps: Dependencies, payload: bytes) -> None:
    header = request.headers.get(SIGNATURE_HEADER)
    tolerance = deps.webhook_tolerance_s
    try:
        verify(payload, header, deps.webhook_secrets.current(), tolerance_s=tolerance)
    except SignatureRejected as first:
        # A secret written a moment ago (register-webhook, a rotation) may not be cached yet.
        fresh = deps.webhook_secrets.refresh_after_failure() if header else None
        if fresh is None:
            raise
        logger.info("webhook secrets changed in the store; verifying again")
        try:
            verify(payload, header, fresh, tolerance_s=tolerance)
        except SignatureRejected:
            raise first from None


@bp.post("/stripe")
def stripe_webhook() -> tuple[dict[str, object], int]:
    """Receive one Stripe event delivery."""
    deps = dependencies()
    payload = request.get_data(cache=False)  # 413 here when the body is over the limit
    try:
        _verify(deps, payload)
    except SignatureRejected as exc:
        raise _reject(
            exc.reason, code="invalid_signature", message="invalid signature", kind="signature"
        ) from None
    try:
        event = jsonbody.loads(payload)
    except jsonbody.InvalidJSON as exc:
        raise _reject(
            f"body is not acceptable JSON: {exc.reason}",
            code="invalid_payload",
            message=f"invalid payload: {exc.reason}",
            kind="malformed",
        ) from None
    try:
        event_type = event_type_of(event)
    except MalformedEvent as exc:
        raise _reject(
            str(exc), code="invalid_payload", message="invalid payload", kind="malformed"
        ) from None
    if not is_handled(event_type):
        logger.info("stripe event type %s is not handled; acknowledged, not published", event_type)
        return {"received": True, "published": False}, 200
    try:
        envelope = event_envelope(
            event, correlation_id=g.correlation_id, received_at=dt.datetime.now(dt.UTC)
        )
        body = encode(envelope)
    except MalformedEvent as exc:
        raise _reject(
            str(exc), code="invalid_payload", message="invalid payload", kind="malformed"
        ) from None
    if envelope.data["livemode"] != (deps.stripe.api_key_mode == "live"):
        logger.warning(
            "event %s has livemode=%s but the API key is a %s key; published as is",
            envelope.id,
            envelope.data["livemode"],
            deps.stripe.api_key_mode,
        )
    try:
        deps.publisher.publish(
            envelope.routing_key,
            body,
            message_id=envelope.id,
            correlation_id=envelope.correlation_id,
        )
    except PublishError as exc:
        logger.error("event %s not queued (%s); answering 503 so Stripe retries", envelope.id, exc)
        raise RetryLater(
            "the event could not be queued; retry later", retry_after_s=5, code="not_queued"
        ) from None
    logger.info("event %s (%s) queued", envelope.id, event_type)
    return {"received": True, "published": True, "id": envelope.id}, 200
