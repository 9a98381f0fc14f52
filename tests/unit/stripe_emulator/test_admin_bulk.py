"""``POST /_emulator/bulk/charges``: many API-shaped charges and events in one control call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorError
from stripe_emulator.server import EmulatorServer

DAY = 86400


class TestBulkCharges:
    def test_charges_are_api_shaped_spread_in_time_and_listed_newest_first(
        self,
        emu: EmulatorServer,
        client: stripe.StripeClient,
        assert_shape: Callable[..., dict[str, Any]],
    ) -> None:
        now = emu.advance_clock(0)
        since, until = now - 2 * DAY, now - DAY

        seeded = emu.admin(
            "POST", "bulk/charges", {"count": 250, "since": since, "until": until, "amount": 1234}
        )

        assert seeded["count"] == 250
        charges = list(
            client.v1.charges.list(
                params={"created": {"gte": since, "lt": until}, "limit": 100}
            ).auto_paging_iter()
        )
        assert len(charges) == 250
        assert charges[0].id == seeded["last"]
        assert charges[-1].id == seeded["first"]
        created = [c.created for c in charges]
        assert created == sorted(created, reverse=True)
        assert created[-1] == since
        assert created[0] < until
        assert {c.status for c in charges} == {"succeeded"}
        assert {c.amount for c in charges} == {1234}
        data = assert_shape(charges[0], stripe.Charge, {"id": (str,), "paid": (bool,)})
        assert data["payment_intent"] is None
        txn = client.v1.balance_transactions.retrieve(charges[0].balance_transaction)
        assert txn.source == charges[0].id
        assert txn.amount == 1234

    def test_each_charge_has_its_charge_succeeded_event_at_its_time(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        now = emu.advance_clock(0)
        emu.admin("POST", "bulk/charges", {"count": 120, "since": now - 600, "until": now})

        events = list(
            client.v1.events.list(
                params={"type": "charge.succeeded", "limit": 100}
            ).auto_paging_iter()
        )

        assert len(events) == 120
        assert all(e.created == e.data.object["created"] for e in events)
        assert len({e.data.object["id"] for e in events}) == 120

    def test_without_events_none_is_stored(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        now = emu.advance_clock(0)
        emu.admin(
            "POST", "bulk/charges", {"count": 5, "since": now - 60, "until": now, "events": False}
        )
        assert client.v1.events.list().data == []
        assert len(client.v1.charges.list().data) == 5

    @pytest.mark.parametrize(
        "body",
        [{"count": 0}, {"count": "many"}, {"count": 3, "since": 10, "until": 10}],
    )
    def test_invalid_bodies_are_refused(self, emu: EmulatorServer, body: dict[str, Any]) -> None:
        with pytest.raises(EmulatorError) as info:
            emu.admin("POST", "bulk/charges", body)
        assert info.value.status == 400
