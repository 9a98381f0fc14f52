"""Stripe events as bus messages: one envelope shape for webhooks, polled events and backfills.

A webhook delivery and the same event found later by ``poll`` become byte-for-byte the same
``Envelope`` apart from the received time and correlation id: ``id`` (and the AMQP message id)
is the event id, ``type`` is ``stripe.event.<event type>``, ``data`` follows
``contracts.StripeEventDataV1`` with ``object`` set to the event's ``data.object``. The reconciler
de-duplicates on that id, so a duplicate delivery, a replay inside the signature window and a
poll of an already delivered event cost nothing downstream.

Objects older than Stripe's 30-day event retention have no event to poll; ``backfill_envelope``
gives them a synthetic but deterministic identity: message id ``poll:<event type>:<object id>``
(e.g. ``poll:invoice.paid:in_123``) and ``event_id`` ``evt_poll_<event type with _>_<object id>``
(``evt_poll_invoice_paid_in_123``), so running the same backfill twice publishes the same ids. A
refund is its own event: ``poll:charge.refunded:re_456`` carries the refund's charge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from mlconnector.bus import Publisher
from mlconnector.contracts import ContractError
from mlconnector.contracts import Envelope
from stripe_gateway.events import routing_key

SOURCE = "stripe"
BACKFILL_PREFIX = "poll"


class MalformedEvent(ValueError):
    """A (verified) payload that is not a Stripe event the contract can carry."""


def _field(event: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = event.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedEvent(f"event field {name!r} is missing or not a {kind}")
    return value


def event_type_of(event: object) -> str:
    """The ``type`` of a decoded event; ``MalformedEvent`` when it is not an event object."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("the payload is not a JSON object")
    return str(_field(event, "type", str))


def event_envelope(
    event: Mapping[str, Any], *, correlation_id: str, received_at: dt.datetime
) -> Envelope:
    """The envelope of a real Stripe event (from a webhook or ``GET /v1/events``)."""
    event_id = _field(event, "id", str)
    event_type = _field(event, "type", str)
    created = _field(event, "created", int)
    data = _field(event, "data", Mapping)
    obj = data.get("object")
    if not isinstance(obj, Mapping):
        raise MalformedEvent("event field 'data.object' is missing or not an object")
    api_version = event.get("api_version")
    return Envelope(
        id=event_id,
        type=routing_key(event_type),
        source=SOURCE,
        occurred_at=_time(created),
        received_at=received_at,
        correlation_id=correlation_id,
        data={
            "event_id": event_id,
            "event_type": event_type,
            "api_version": api_version if isinstance(api_version, str) else None,
            "livemode": _field(event, "livemode", bool),
            "object_type": _field(obj, "object", str),
            "object_id": _field(obj, "id", str),
            "created": created,
            "object": dict(obj),
        },
    )


def backfill_envelope(
    event_type: str,
    obj: Mapping[str, Any],
    *,
    occurred_at: int,
    api_version: str,
    correlation_id: str,
    received_at: dt.datetime,
    identity: str | None = None,
) -> Envelope:
    """A deterministic stand-in for an event past retention, built from the object itself.

    ``identity`` defaults to the object id; a ``charge.refunded`` backfill passes the refund id,
    since each refund of a charge is its own event.
    """
    object_id = _field(obj, "id", str)
    ident = identity or object_id
    event_id = f"evt_{BACKFILL_PREFIX}_{event_type.replace('.', '_')}_{ident}"
    return Envelope(
        id=f"{BACKFILL_PREFIX}:{event_type}:{ident}",
        type=routing_key(event_type),
        source=SOURCE,
        occurred_at=_time(occurred_at),
        received_at=received_at,
        correlation_id=correlation_id,
        data={
            "event_id": event_id,
            "event_type": event_type,
            "api_version": api_version,
            "livemode": bool(obj.get("livemode", False)),
            "object_type": _field(obj, "object", str),
            "object_id": object_id,
            "created": occurred_at,
            "object": dict(obj),
        },
    )


def encode(envelope: Envelope) -> bytes:
    """The wire form, validated against the contract; ``MalformedEvent`` if it does not fit."""
    try:
        return envelope.to_json()
    except ContractError as exc:
        raise MalformedEvent(f"the event does not fit the message contract: {exc}") from exc


def publish(publisher: Publisher, envelope: Envelope) -> None:
    """Encode, publish, and wait for the broker's confirm; a ``PublishError`` means "not queued"."""
    publisher.publish(
        envelope.routing_key,
        encode(envelope),
        message_id=envelope.id,
        correlation_id=envelope.correlation_id,
    )


def _time(timestamp: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedEvent("event timestamp out of range") from exc
