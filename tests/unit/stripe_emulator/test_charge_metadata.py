"""Charge and PaymentIntent updates: Stripe's metadata rules, and the `charge.updated` event.

Driven with the unmodified stripe SDK over HTTP. The rules (emulators `charges.updated_metadata`,
sources there): updates merge, `""` unsets a key and `metadata=""` all of them; at most 50 keys
on the object after the merge, keys of at most 40 characters, values of at most 500, each
refusal a 400 `invalid_request_error` on `metadata` with Stripe's own message, and a refused
update changes nothing. A changed charge is announced as `charge.updated`; Stripe has no
`payment_intent.updated`, so an intent update announces nothing.
"""

from __future__ import annotations

import pytest
import stripe


def _payment(client: stripe.StripeClient, **metadata: str) -> tuple[str, str]:
    """A succeeded card payment: (charge id, PaymentIntent id)."""
    intent = client.v1.payment_intents.create(
        params={
            "amount": 4200,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": metadata,
        }
    )
    assert isinstance(intent.latest_charge, str)
    return intent.latest_charge, intent.id


def _refusal(caught: pytest.ExceptionInfo[stripe.InvalidRequestError]) -> tuple[int, str, str]:
    error = caught.value.error
    assert error is not None
    assert error.type == "invalid_request_error"
    return caught.value.http_status or 0, str(error.param), str(error.message)


class TestMergeSemantics:
    def test_charge_update_merges_unsets_one_key_and_keeps_the_rest(
        self, client: stripe.StripeClient
    ) -> None:
        charge_id, _ = _payment(client, order="A-1", channel="web")

        updated = client.v1.charges.update(
            charge_id, params={"metadata": {"bc_invoice_id": "inv-1", "channel": ""}}
        )

        assert updated.to_dict()["metadata"] == {"order": "A-1", "bc_invoice_id": "inv-1"}
        again = client.v1.charges.retrieve(charge_id)
        assert again.to_dict()["metadata"] == {"order": "A-1", "bc_invoice_id": "inv-1"}

    def test_an_empty_metadata_clears_every_key(self, client: stripe.StripeClient) -> None:
        charge_id, intent_id = _payment(client, order="A-1", channel="web")

        charge = client.v1.charges.update(charge_id, params={"metadata": ""})
        intent = client.v1.payment_intents.update(intent_id, params={"metadata": ""})

        assert charge.to_dict()["metadata"] == {}
        assert intent.to_dict()["metadata"] == {}

    def test_payment_intent_update_merges_like_the_charge(
        self, client: stripe.StripeClient
    ) -> None:
        _, intent_id = _payment(client, order="A-1")

        intent = client.v1.payment_intents.update(
            intent_id, params={"metadata": {"bc_company_id": "co-1", "order": ""}}
        )

        assert intent.to_dict()["metadata"] == {"bc_company_id": "co-1"}
        read = client.v1.payment_intents.retrieve(intent_id)
        assert read.to_dict()["metadata"] == {"bc_company_id": "co-1"}


class TestLimits:
    def test_the_limits_themselves_are_accepted(self, client: stripe.StripeClient) -> None:
        charge_id, _ = _payment(client)
        fifty = {f"k{i:02d}": "v" for i in range(48)}
        fifty["k" * 40] = "v" * 500
        fifty["last"] = "x"

        updated = client.v1.charges.update(charge_id, params={"metadata": fifty})

        assert len(updated.to_dict()["metadata"]) == 50

    def test_a_key_over_40_characters_is_refused_with_stripes_message(
        self, client: stripe.StripeClient
    ) -> None:
        charge_id, intent_id = _payment(client)
        key = "k" * 41
        for update, target in (
            (client.v1.charges.update, charge_id),
            (client.v1.payment_intents.update, intent_id),
        ):
            with pytest.raises(stripe.InvalidRequestError) as caught:
                update(target, params={"metadata": {key: "v"}})
            assert _refusal(caught) == (
                400,
                "metadata",
                f"Invalid key: {key} must be a string under 40 characters",
            )

    def test_a_value_over_500_characters_is_refused_with_stripes_message(
        self, client: stripe.StripeClient
    ) -> None:
        charge_id, intent_id = _payment(client)
        value = "v" * 501
        with pytest.raises(stripe.InvalidRequestError) as on_charge:
            client.v1.charges.update(charge_id, params={"metadata": {"note": value}})
        with pytest.raises(stripe.InvalidRequestError) as on_intent:
            client.v1.payment_intents.update(intent_id, params={"metadata": {"note": value}})
        expected = (400, "metadata", f"Invalid val: {value} must be a string under 500 characters")
        assert _refusal(on_charge) == _refusal(on_intent) == expected

    def test_fifty_keys_count_after_the_merge_and_a_refusal_changes_nothing(
        self, client: stripe.StripeClient
    ) -> None:
        existing = {f"k{i:02d}": "v" for i in range(48)}
        charge_id, _ = _payment(client)
        client.v1.charges.update(charge_id, params={"metadata": existing})

        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.charges.update(
                charge_id,
                params={
                    "description": "must not stick",
                    "metadata": {"a": "1", "b": "2", "c": "3"},
                },
            )

        assert _refusal(caught) == (
            400,
            "metadata",
            "Metadata can have up to 50 keys, but you've set 51. "
            "Email us at support+metadata@stripe.com for more information.",
        )
        charge = client.v1.charges.retrieve(charge_id)
        assert charge.to_dict()["metadata"] == existing
        assert charge.description is None
        # Unsetting one key in the same request makes room for another.
        swapped = client.v1.charges.update(
            charge_id, params={"metadata": {"k00": "", "a": "1", "b": "2", "c": "3"}}
        )
        assert len(swapped.to_dict()["metadata"]) == 50

    def test_an_intent_refusal_changes_nothing(self, client: stripe.StripeClient) -> None:
        _, intent_id = _payment(client, order="A-1")
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.payment_intents.update(
                intent_id,
                params={"description": "must not stick", "metadata": {"k" * 41: "v"}},
            )
        intent = client.v1.payment_intents.retrieve(intent_id)
        assert intent.to_dict()["metadata"] == {"order": "A-1"}
        assert intent.description is None


class TestUpdateEvents:
    def test_a_changed_charge_is_announced_with_its_previous_metadata(
        self, client: stripe.StripeClient
    ) -> None:
        charge_id, _ = _payment(client, order="A-1")

        client.v1.charges.update(charge_id, params={"metadata": {"bc_invoice_id": "inv-1"}})

        [event] = client.v1.events.list(params={"type": "charge.updated"}).data
        assert event.data.object.id == charge_id
        assert event.data.object.to_dict()["metadata"] == {"order": "A-1", "bc_invoice_id": "inv-1"}
        previous = event.data.to_dict()["previous_attributes"]
        assert previous == {"metadata": {"order": "A-1"}}

    def test_an_update_that_changes_nothing_is_not_announced(
        self, client: stripe.StripeClient
    ) -> None:
        charge_id, _ = _payment(client, order="A-1")

        client.v1.charges.update(charge_id, params={"metadata": {"order": "A-1"}})

        assert client.v1.events.list(params={"type": "charge.updated"}).data == []

    def test_an_intent_update_is_announced_by_no_event(self, client: stripe.StripeClient) -> None:
        _, intent_id = _payment(client)
        before = {e.id for e in client.v1.events.list(params={"limit": 100}).data}

        client.v1.payment_intents.update(intent_id, params={"metadata": {"bc": "x"}})

        after = client.v1.events.list(params={"limit": 100}).data
        assert [e.type for e in after if e.id not in before] == []
