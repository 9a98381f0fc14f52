"""Messages on the bus: one versioned envelope and a payload schema per message type.

Every message published to ``mlc.events`` is an ``Envelope`` (ARCHITECTURE §4). The envelope's
``type`` is also its routing key, and ``(type family, schema_version)`` selects the marshmallow
schema its ``data`` must satisfy. ``load_message`` validates both layers and raises
``ContractError`` with the field errors, so a malformed message is rejected at the edge (and
dead-lettered by the consumer) instead of failing deep inside a handler. Payloads are hints: the
reconciler re-fetches authoritative state through the gateways.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

SCHEMA_VERSION = 1
SOURCES = ("stripe", "bc", "reconciler")

# Routing-key families. A message type is the routing key itself, e.g.
# "stripe.event.invoice.paid" or "bc.notification.salesInvoices.updated".
STRIPE_EVENT_PREFIX = "stripe.event."
BC_NOTIFICATION_PREFIX = "bc.notification."
BC_INVOICE_OBSERVED = "bc.invoice.observed"
BC_CUSTOMER_OBSERVED = "bc.customer.observed"


class ContractError(ValueError):
    """A message that does not match its contract; ``errors`` holds marshmallow's field errors."""

    def __init__(self, message: str, errors: Mapping[str, Any]) -> None:
        super().__init__(f"{message}: {json.dumps(errors, sort_keys=True, default=str)}")
        self.errors = dict(errors)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class EnvelopeSchema(_Strict):
    id = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    type = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    source = fields.Str(required=True, validate=validate.OneOf(SOURCES))
    occurred_at = fields.AwareDateTime(required=True)
    received_at = fields.AwareDateTime(required=True)
    correlation_id = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    schema_version = fields.Int(required=True, strict=True)
    data = fields.Dict(keys=fields.Str(), required=True)


class StripeEventDataV1(_Strict):
    """A Stripe event as the stripe-gateway saw it; ``object`` is the event's ``data.object``."""

    event_id = fields.Str(required=True, validate=validate.Regexp(r"^evt_[A-Za-z0-9_]+$"))
    event_type = fields.Str(required=True)
    api_version = fields.Str(required=True, allow_none=True)
    livemode = fields.Bool(required=True)
    object_type = fields.Str(required=True)
    object_id = fields.Str(required=True, validate=validate.Length(min=1))
    created = fields.Int(required=True, strict=True)
    object = fields.Dict(keys=fields.Str(), load_default=dict)


class BcNotificationDataV1(_Strict):
    """One element of a BC notification's ``value[]`` (no entity data, by BC's design)."""

    subscription_id = fields.Str(required=True)
    resource = fields.Str(required=True)
    change_type = fields.Str(
        required=True, validate=validate.OneOf(("created", "updated", "deleted", "collection"))
    )
    last_modified = fields.AwareDateTime(required=True)
    entity = fields.Str(required=True)
    company_id = fields.Str(required=True, allow_none=True)
    entity_id = fields.Str(required=True, allow_none=True)


class BcObservedDataV1(_Strict):
    """A BC record seen by a poll (or expanded from a ``collection`` notification)."""

    company_id = fields.Str(required=True)
    entity_id = fields.Str(required=True)
    number = fields.Str(load_default=None, allow_none=True)
    last_modified = fields.AwareDateTime(required=True)
    # Invoices: status, remaining and total amounts (decimal strings) and currency code, as
    # the poll read them; absent from older messages.
    amounts = fields.Dict(keys=fields.Str(), values=fields.Str())


# One instance of each schema for the process: building them costs more than validating a
# message, and marshmallow schemas keep no per-call state, so threads can share them.
_ENVELOPE = EnvelopeSchema()
_STRIPE_EVENT_V1 = StripeEventDataV1()
_BC_NOTIFICATION_V1 = BcNotificationDataV1()
_BC_OBSERVED_V1 = BcObservedDataV1()


def payload_schema(message_type: str, version: int) -> Schema:
    """The payload schema for a message type and version; ContractError when there is none."""
    if version == 1:
        if message_type.startswith(STRIPE_EVENT_PREFIX):
            return _STRIPE_EVENT_V1
        if message_type.startswith(BC_NOTIFICATION_PREFIX):
            return _BC_NOTIFICATION_V1
        if message_type in (BC_INVOICE_OBSERVED, BC_CUSTOMER_OBSERVED):
            return _BC_OBSERVED_V1
    raise ContractError(
        "unknown message type or version",
        {"type": [f"no contract for {message_type!r} version {version}"]},
    )


@dataclasses.dataclass(frozen=True)
class Envelope:
    """A validated message: envelope fields plus the validated ``data`` payload."""

    id: str
    type: str
    source: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    correlation_id: str
    data: dict[str, Any]
    schema_version: int = SCHEMA_VERSION

    @property
    def routing_key(self) -> str:
        return self.type

    def to_dict(self) -> dict[str, Any]:
        """The wire form, validated on the way out too: a publisher cannot emit a bad message.

        Dumping alone would not refuse anything (marshmallow drops unknown keys and coerces
        types silently), so the dumped form is loaded back and must equal this envelope.
        """
        schema = payload_schema(self.type, self.schema_version)
        unknown = sorted(set(self.data) - set(schema.fields))
        if unknown:
            raise ContractError(
                "payload does not validate", {"data": {key: ["Unknown field."] for key in unknown}}
            )
        try:
            raw = {
                "id": self.id,
                "type": self.type,
                "source": self.source,
                "occurred_at": self.occurred_at,
                "received_at": self.received_at,
                "correlation_id": self.correlation_id,
                "schema_version": self.schema_version,
                "data": schema.dump(self.data),
            }
            dumped: dict[str, Any] = _ENVELOPE.dump(raw)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ContractError(
                "message cannot be serialised", {"_schema": [f"{type(exc).__name__}: {exc}"]}
            ) from exc
        loaded = load_message(dumped)  # symmetric validation
        changed = _changed_fields(self, loaded)
        if changed:
            raise ContractError("message does not survive serialisation", changed)
        return dumped

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()


def load_message(raw: Mapping[str, Any] | bytes | str) -> Envelope:
    """Parse and validate an envelope and its payload; ContractError with field errors if not."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ContractError("message is not JSON", {"_body": [str(exc)]}) from exc
        if not isinstance(raw, Mapping):
            raise ContractError("message is not a JSON object", {"_body": ["expected an object"]})
    try:
        env = _ENVELOPE.load(raw)
    except ValidationError as exc:
        raise ContractError("envelope does not validate", _as_dict(exc.messages)) from exc
    schema = payload_schema(env["type"], env["schema_version"])
    try:
        data = schema.load(env["data"])
    except ValidationError as exc:
        raise ContractError("payload does not validate", {"data": exc.messages}) from exc
    return Envelope(
        id=env["id"],
        type=env["type"],
        source=env["source"],
        occurred_at=env["occurred_at"],
        received_at=env["received_at"],
        correlation_id=env["correlation_id"],
        schema_version=env["schema_version"],
        data=data,
    )


def _changed_fields(sent: Envelope, loaded: Envelope) -> dict[str, Any]:
    """Fields whose value a dump/load round trip changed, i.e. that held the wrong type."""
    wrong = ["Not a valid value for this field's type."]
    changed: dict[str, Any] = {
        f.name: wrong
        for f in dataclasses.fields(Envelope)
        if f.name != "data" and getattr(sent, f.name) != getattr(loaded, f.name)
    }
    data = {key: wrong for key, value in sent.data.items() if loaded.data.get(key) != value}
    if data:
        changed["data"] = data
    return changed


def _as_dict(messages: Any) -> dict[str, Any]:
    return dict(messages) if isinstance(messages, Mapping) else {"_schema": messages}
