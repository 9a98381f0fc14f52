"""Stripe events (and backfilled objects) as contract-valid bus messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mlconnector.contracts import load_message
from stripe_gateway.envelopes import MalformedEvent
from stripe_gateway.envelopes import backfill_envelope
from stripe_gateway.envelopes import encode
from stripe_gateway.envelopes import event_envelope
from stripe_gateway.envelopes import event_type_of

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "evt_1Abc",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1793534400,
        "data": {"object": {"id": "ch_1", "object": "charge", "amount": 500}},
        "livemode": True,
        "type": "charge.succeeded",
    }
    base.update(overrides)
    return base


def test_an_event_becomes_an_envelope_that_round_trips_through_the_contract() -> None:
    env = event_envelope(event(), correlation_id="corr-1", received_at=NOW)
    loaded = load_message(encode(env))
    assert (loaded.id, loaded.type, loaded.source) == (
        "evt_1Abc",
        "stripe.event.charge.succeeded",
        "stripe",
    )
    assert loaded.occurred_at == dt.datetime.fromtimestamp(1793534400, dt.UTC)
    assert loaded.data == {
        "event_id": "evt_1Abc",
        "event_type": "charge.succeeded",
        "api_version": "2026-10-28.endive",
        "livemode": True,
        "object_type": "charge",
        "object_id": "ch_1",
        "created": 1793534400,
        "object": {"id": "ch_1", "object": "charge", "amount": 500},
    }


@pytest.mark.parametrize(
    "change",
    [
        {"id": 5},
        {"id": "not-an-event-id"},
        {"type": None},
        {"created": "yesterday"},
        {"created": True},
        {"livemode": "yes"},
        {"data": {"object": "ch_1"}},
        {"data": {}},
        {"data": {"object": {"object": "charge"}}},
        {"created": 10**20},
    ],
    ids=lambda c: f"{next(iter(c))}={next(iter(c.values()))!r}"[:40],
)
def test_events_that_do_not_fit_are_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        encode(event_envelope(event(**change), correlation_id="c", received_at=NOW))


@pytest.mark.parametrize("payload", [[], "x", 3, None, {"id": "evt_1"}])
def test_event_type_of_requires_an_object_with_a_type(payload: object) -> None:
    with pytest.raises(MalformedEvent):
        event_type_of(payload)


def test_backfill_ids_are_deterministic_and_valid() -> None:
    payout = {"id": "po_123", "object": "payout", "livemode": False, "amount": 100}
    first = backfill_envelope(
        "payout.paid", payout, occurred_at=1, api_version="v", correlation_id="a", received_at=NOW
    )
    second = backfill_envelope(
        "payout.paid", payout, occurred_at=1, api_version="v", correlation_id="b", received_at=NOW
    )
    assert first.id == second.id == "poll:payout.paid:po_123"
    assert load_message(encode(first)).data["event_id"] == "evt_poll_payout_paid_po_123"


def test_a_refund_backfill_is_identified_by_the_refund() -> None:
    charge = {"id": "ch_9", "object": "charge"}
    env = backfill_envelope(
        "charge.refunded",
        charge,
        occurred_at=1,
        api_version="v",
        correlation_id="c",
        received_at=NOW,
        identity="re_7",
    )
    assert env.id == "poll:charge.refunded:re_7"
    assert env.data["object_id"] == "ch_9"
