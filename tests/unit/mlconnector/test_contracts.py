"""Tests for mlconnector.contracts: the bus envelope and its versioned payload schemas."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from mlconnector.contracts import BC_CUSTOMER_OBSERVED
from mlconnector.contracts import BC_INVOICE_OBSERVED
from mlconnector.contracts import SCHEMA_VERSION
from mlconnector.contracts import SOURCES
from mlconnector.contracts import BcNotificationDataV1
from mlconnector.contracts import BcObservedDataV1
from mlconnector.contracts import ContractError
from mlconnector.contracts import Envelope
from mlconnector.contracts import StripeEventDataV1
from mlconnector.contracts import load_message
from mlconnector.contracts import payload_schema

OCCURRED = dt.datetime(2024, 5, 1, 10, 30, 15, 123456, tzinfo=dt.UTC)
RECEIVED = dt.datetime(2024, 5, 1, 12, 31, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def stripe_envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "id": "msg-stripe-1",
        "type": "stripe.event.invoice.paid",
        "source": "stripe",
        "occurred_at": OCCURRED,
        "received_at": RECEIVED,
        "correlation_id": "corr-1",
        "data": {
            "event_id": "evt_1NabcDEF_ghi",
            "event_type": "invoice.paid",
            "api_version": "2024-06-20",
            "livemode": False,
            "object_type": "invoice",
            "object_id": "in_1Nabc",
            "created": 1714559415,
            "object": {"id": "in_1Nabc", "amount_paid": 12550, "currency": "eur"},
        },
    }
    fields.update(changes)
    return Envelope(**fields)


def bc_notification_envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "id": "msg-bc-1",
        "type": "bc.notification.salesInvoices.updated",
        "source": "bc",
        "occurred_at": OCCURRED,
        "received_at": RECEIVED,
        "correlation_id": "corr-2",
        "data": {
            "subscription_id": "sub-1",
            "resource": "api/v2.0/companies(c1)/salesInvoices(e1)",
            "change_type": "updated",
            "last_modified": OCCURRED,
            "entity": "salesInvoices",
            "company_id": "c1",
            "entity_id": "e1",
        },
    }
    fields.update(changes)
    return Envelope(**fields)


def bc_observed_envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "id": "msg-bc-2",
        "type": BC_INVOICE_OBSERVED,
        "source": "bc",
        "occurred_at": OCCURRED,
        "received_at": RECEIVED,
        "correlation_id": "corr-3",
        "data": {
            "company_id": "c1",
            "entity_id": "e1",
            "number": "103001",
            "last_modified": OCCURRED,
        },
    }
    fields.update(changes)
    return Envelope(**fields)


BUILDERS: list[Callable[..., Envelope]] = [
    stripe_envelope,
    bc_notification_envelope,
    bc_observed_envelope,
]


def wire(builder: Callable[..., Envelope] = stripe_envelope) -> dict[str, Any]:
    """A valid message in its wire form, to be broken by each invalid-case test."""
    result: dict[str, Any] = json.loads(builder().to_json())
    return result


def rejected(raw: Any) -> dict[str, Any]:
    with pytest.raises(ContractError) as caught:
        load_message(raw)
    return caught.value.errors


class TestRoundTrip:
    @pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
    def test_a_valid_envelope_survives_to_json_and_load_message(
        self, builder: Callable[..., Envelope]
    ) -> None:
        envelope = builder()
        assert load_message(envelope.to_json()) == envelope

    @pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
    def test_load_message_accepts_bytes_text_and_mappings(
        self, builder: Callable[..., Envelope]
    ) -> None:
        body = builder().to_json()
        assert load_message(body) == load_message(body.decode()) == load_message(json.loads(body))

    def test_the_wire_form_has_exactly_the_architecture_fields(self) -> None:
        assert set(wire()) == {
            "id",
            "type",
            "source",
            "occurred_at",
            "received_at",
            "correlation_id",
            "schema_version",
            "data",
        }
        assert wire()["schema_version"] == SCHEMA_VERSION == 1

    def test_datetimes_travel_as_iso_8601_with_their_offset(self) -> None:
        message = wire()
        assert message["occurred_at"] == "2024-05-01T10:30:15.123456+00:00"
        assert message["received_at"] == "2024-05-01T12:31:00+02:00"
        assert load_message(message).received_at == RECEIVED

    def test_to_json_is_compact_and_deterministic(self) -> None:
        body = stripe_envelope().to_json()
        assert body == stripe_envelope().to_json()
        assert b", " not in body
        assert b": " not in body
        assert list(json.loads(body)) == sorted(json.loads(body))

    def test_the_routing_key_is_the_type(self) -> None:
        assert stripe_envelope().routing_key == "stripe.event.invoice.paid"
        assert bc_observed_envelope().routing_key == BC_INVOICE_OBSERVED

    def test_optional_payload_fields_get_their_defaults(self) -> None:
        message = wire(bc_observed_envelope)
        del message["data"]["number"]
        assert load_message(message).data["number"] is None
        message = wire(stripe_envelope)
        del message["data"]["object"]
        assert load_message(message).data["object"] == {}

    def test_nullable_fields_accept_null(self) -> None:
        message = wire(stripe_envelope)
        message["data"]["api_version"] = None
        assert load_message(message).data["api_version"] is None
        message = wire(bc_notification_envelope)
        message["data"]["company_id"] = None
        message["data"]["entity_id"] = None
        assert load_message(message).data["entity_id"] is None

    def test_a_customer_observation_uses_the_observed_schema(self) -> None:
        envelope = bc_observed_envelope(type=BC_CUSTOMER_OBSERVED)
        assert load_message(envelope.to_json()) == envelope

    def test_a_loaded_envelope_can_be_emitted_again_unchanged(self) -> None:
        message = wire(bc_notification_envelope)
        assert load_message(message).to_dict() == message

    @pytest.mark.parametrize("source", SOURCES)
    def test_every_declared_source_is_accepted(self, source: str) -> None:
        envelope = bc_observed_envelope(source=source)
        assert load_message(envelope.to_json()).source == source


class TestPayloadSchema:
    @pytest.mark.parametrize(
        ("message_type", "schema"),
        [
            ("stripe.event.invoice.paid", StripeEventDataV1),
            ("stripe.event.customer.created", StripeEventDataV1),
            ("bc.notification.customers.created", BcNotificationDataV1),
            (BC_INVOICE_OBSERVED, BcObservedDataV1),
            (BC_CUSTOMER_OBSERVED, BcObservedDataV1),
        ],
    )
    def test_selects_the_schema_for_the_type_family(self, message_type: str, schema: type) -> None:
        assert isinstance(payload_schema(message_type, 1), schema)

    @pytest.mark.parametrize(
        ("message_type", "version"),
        [("stripe.charge.succeeded", 1), ("bc.invoice.deleted", 1), ("stripe.event.x", 2)],
    )
    def test_an_unknown_type_or_version_has_no_contract(
        self, message_type: str, version: int
    ) -> None:
        with pytest.raises(ContractError) as caught:
            payload_schema(message_type, version)
        assert caught.value.errors == {
            "type": [f"no contract for {message_type!r} version {version}"]
        }


class TestLoadMessageRejects:
    def test_a_missing_id(self) -> None:
        message = wire()
        del message["id"]
        assert rejected(message) == {"id": ["Missing data for required field."]}

    def test_an_empty_id(self) -> None:
        message = wire()
        message["id"] = ""
        assert list(rejected(message)) == ["id"]

    def test_several_missing_fields_at_once(self) -> None:
        message = wire()
        for name in ("id", "source", "correlation_id"):
            del message[name]
        assert set(rejected(message)) == {"id", "source", "correlation_id"}

    def test_an_unknown_source(self) -> None:
        message = wire()
        message["source"] = "erp"
        assert rejected(message) == {"source": ["Must be one of: stripe, bc, reconciler."]}

    @pytest.mark.parametrize("field", ["occurred_at", "received_at"])
    def test_a_naive_datetime(self, field: str) -> None:
        message = wire()
        message[field] = "2024-05-01T10:30:15"
        assert rejected(message) == {field: ["Not a valid aware datetime."]}

    def test_a_datetime_that_is_not_one(self) -> None:
        message = wire()
        message["occurred_at"] = "yesterday"
        assert list(rejected(message)) == ["occurred_at"]

    def test_an_overlong_correlation_id(self) -> None:
        message = wire()
        message["correlation_id"] = "c" * 65
        assert list(rejected(message)) == ["correlation_id"]

    def test_an_unknown_type(self) -> None:
        message = wire()
        message["type"] = "stripe.charge.succeeded"
        errors = rejected(message)
        assert errors == {"type": ["no contract for 'stripe.charge.succeeded' version 1"]}

    def test_an_unknown_schema_version(self) -> None:
        message = wire()
        message["schema_version"] = 2
        errors = rejected(message)
        assert errors == {"type": ["no contract for 'stripe.event.invoice.paid' version 2"]}

    @pytest.mark.parametrize("version", ["1", 1.0, True, None])
    def test_a_schema_version_that_is_not_an_integer(self, version: object) -> None:
        message = wire()
        message["schema_version"] = version
        assert list(rejected(message)) == ["schema_version"]

    @pytest.mark.parametrize("event_id", ["ev_123", "evt_", "evt_12 34", "123", ""])
    def test_a_bad_stripe_event_id(self, event_id: str) -> None:
        message = wire()
        message["data"]["event_id"] = event_id
        assert rejected(message) == {
            "data": {"event_id": ["String does not match expected pattern."]}
        }

    def test_an_unknown_envelope_field(self) -> None:
        message = wire()
        message["priority"] = "high"
        assert rejected(message) == {"priority": ["Unknown field."]}

    def test_an_unknown_payload_field(self) -> None:
        message = wire(bc_observed_envelope)
        message["data"]["colour"] = "red"
        assert rejected(message) == {"data": {"colour": ["Unknown field."]}}

    def test_a_payload_missing_required_fields(self) -> None:
        message = wire(bc_observed_envelope)
        message["data"] = {"company_id": "c1"}
        assert rejected(message) == {
            "data": {
                "entity_id": ["Missing data for required field."],
                "last_modified": ["Missing data for required field."],
            }
        }

    def test_a_payload_of_the_wrong_family(self) -> None:
        message = wire(stripe_envelope)
        message["data"] = wire(bc_observed_envelope)["data"]
        errors = rejected(message)
        assert set(errors) == {"data"}
        assert errors["data"]["company_id"] == ["Unknown field."]
        assert errors["data"]["event_id"] == ["Missing data for required field."]

    def test_a_bc_change_type_outside_the_allowed_set(self) -> None:
        message = wire(bc_notification_envelope)
        message["data"]["change_type"] = "renamed"
        assert list(rejected(message)["data"]) == ["change_type"]

    def test_a_naive_datetime_inside_the_payload(self) -> None:
        message = wire(bc_notification_envelope)
        message["data"]["last_modified"] = "2024-05-01T10:30:15"
        assert rejected(message) == {"data": {"last_modified": ["Not a valid aware datetime."]}}

    @pytest.mark.parametrize("created", ["1714559415", 1714559415.5])
    def test_a_stripe_created_time_that_is_not_an_integer(self, created: object) -> None:
        message = wire()
        message["data"]["created"] = created
        assert rejected(message) == {"data": {"created": ["Not a valid integer."]}}

    @pytest.mark.parametrize("data", [[], "text", None])
    def test_data_that_is_not_an_object(self, data: object) -> None:
        message = wire()
        message["data"] = data
        assert list(rejected(message)) == ["data"]

    @pytest.mark.parametrize("body", [b"\xff\xfe not json", b"{", "", b"{'single': 1}"])
    def test_a_body_that_is_not_json(self, body: bytes | str) -> None:
        errors = rejected(body)
        assert list(errors) == ["_body"]
        assert errors["_body"][0]

    @pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b'"text"', b"42", b"null"])
    def test_json_that_is_not_an_object(self, body: bytes) -> None:
        assert rejected(body) == {"_body": ["expected an object"]}

    def test_the_error_is_a_value_error_that_names_the_fields(self) -> None:
        message = wire()
        del message["id"]
        message["source"] = "erp"
        with pytest.raises(ValueError, match="envelope does not validate") as caught:
            load_message(message)
        assert isinstance(caught.value, ContractError)
        assert '"id"' in str(caught.value)
        assert '"source"' in str(caught.value)


class TestEnvelopeRefusesToEmit:
    @pytest.mark.parametrize(
        ("envelope", "field"),
        [
            pytest.param(stripe_envelope(id=""), "id", id="empty-id"),
            pytest.param(stripe_envelope(source="erp"), "source", id="bad-source"),
            pytest.param(
                stripe_envelope(occurred_at=dt.datetime(2024, 5, 1, 10, 0)),
                "occurred_at",
                id="naive-datetime",
            ),
            pytest.param(stripe_envelope(correlation_id="c" * 65), "correlation_id", id="long-cid"),
            pytest.param(
                stripe_envelope(type="stripe.charge.succeeded"), "type", id="unknown-type"
            ),
            pytest.param(stripe_envelope(schema_version=2), "type", id="unknown-version"),
        ],
    )
    def test_an_invalid_envelope_field(self, envelope: Envelope, field: str) -> None:
        with pytest.raises(ContractError) as caught:
            envelope.to_dict()
        assert field in caught.value.errors

    def test_a_bad_stripe_event_id(self) -> None:
        envelope = stripe_envelope(data={**stripe_envelope().data, "event_id": "ev_1"})
        with pytest.raises(ContractError) as caught:
            envelope.to_json()
        assert caught.value.errors == {
            "data": {"event_id": ["String does not match expected pattern."]}
        }

    def test_a_missing_payload_field(self) -> None:
        data = dict(bc_observed_envelope().data)
        del data["entity_id"]
        with pytest.raises(ContractError) as caught:
            bc_observed_envelope(data=data).to_dict()
        assert caught.value.errors == {"data": {"entity_id": ["Missing data for required field."]}}

    def test_an_unknown_payload_field_instead_of_dropping_it(self) -> None:
        envelope = bc_observed_envelope(data={**bc_observed_envelope().data, "colour": "red"})
        with pytest.raises(ContractError) as caught:
            envelope.to_dict()
        assert caught.value.errors == {"data": {"colour": ["Unknown field."]}}

    def test_a_payload_value_of_the_wrong_type_instead_of_coercing_it(self) -> None:
        envelope = bc_observed_envelope(data={**bc_observed_envelope().data, "company_id": 5})
        with pytest.raises(ContractError) as caught:
            envelope.to_dict()
        assert list(caught.value.errors) == ["data"]
        assert list(caught.value.errors["data"]) == ["company_id"]

    def test_an_envelope_value_of_the_wrong_type(self) -> None:
        with pytest.raises(ContractError) as caught:
            bc_observed_envelope(id=12345).to_dict()
        assert list(caught.value.errors) == ["id"]

    @pytest.mark.parametrize(
        "envelope",
        [
            pytest.param(
                bc_observed_envelope(
                    data={**bc_observed_envelope().data, "last_modified": "2024-05-01T10:00:00Z"}
                ),
                id="datetime-as-text-in-payload",
            ),
            pytest.param(
                bc_observed_envelope(occurred_at="2024-05-01T10:00:00Z"), id="datetime-as-text"
            ),
            pytest.param(
                stripe_envelope(data={**stripe_envelope().data, "created": "soon"}),
                id="integer-as-text",
            ),
        ],
    )
    def test_a_value_that_cannot_be_serialised(self, envelope: Envelope) -> None:
        with pytest.raises(ContractError, match="cannot be serialised"):
            envelope.to_dict()

    def test_a_null_in_a_required_non_nullable_field(self) -> None:
        envelope = bc_observed_envelope(data={**bc_observed_envelope().data, "company_id": None})
        with pytest.raises(ContractError) as caught:
            envelope.to_dict()
        assert caught.value.errors == {"data": {"company_id": ["Field may not be null."]}}

    def test_a_valid_envelope_is_not_refused(self) -> None:
        for builder in BUILDERS:
            envelope = builder()
            assert envelope.to_dict()["data"].keys() == envelope.data.keys()

    def test_the_envelope_is_immutable(self) -> None:
        envelope = stripe_envelope()
        with pytest.raises(dataclasses.FrozenInstanceError):
            envelope.id = "changed"  # type: ignore[misc]
