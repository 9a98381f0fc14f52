"""Commands validate what they are asked (issue 10), against the Stripe emulator over HTTP.

Every string a command carries into Stripe (metadata keys and values, descriptions, names, BC
numbers, ids joined into idempotency keys, ids in paths) is checked for control characters and
for Stripe's and BC's limits; amounts for their range. Each refusal is a 422 naming the field,
and the emulator's request log and objects show that Stripe was not asked anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from factories import random_ref
from flask.testing import FlaskClient

from stripe_emulator.server import EmulatorServer

INVOICES = "/commands/invoices"
CUSTOMERS = "/commands/customers/ensure"


@contextmanager
def stripe_untouched(emu: EmulatorServer) -> Iterator[None]:
    """Stripe received no request in the block, and holds the same objects after it."""
    emu.clear_requests()
    before = {kind: emu.admin("GET", f"objects/{kind}")["data"] for kind in ("invoice", "customer")}
    yield
    assert emu.requests() == []
    after = {kind: emu.admin("GET", f"objects/{kind}")["data"] for kind in ("invoice", "customer")}
    assert after == before


def refused(response: Any, *path: str) -> str:
    """Assert a 422 ``validation_failed`` naming the field at ``path``; its reasons."""
    body = response.get_json()
    assert response.status_code == 422, body
    error = body["error"]
    assert error["code"] == "validation_failed", error
    node = error["details"]["fields"]
    for part in path:
        assert part in node, error
        node = node[part]
    return str(node)


def customer_command(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "bc_company_id": "company-" + random_ref("c"),
        "bc_customer_id": "cust-" + random_ref("b"),
        "bc_customer_number": "C0001",
        "name": "Fabrikam Ltd",
        "email": None,
    }
    body.update(overrides)
    return body


class TestMetadata:
    @pytest.mark.parametrize(
        ("metadata", "words"),
        [
            ({f"k{i}": "v" for i in range(51)}, "at most 50"),
            ({"k" * 41: "v"}, "key is 41 characters"),
            ({"bc[no]": "v"}, "'[' or ']'"),
            ({"note": "v" * 501}, "value is 501 characters"),
            ({"note": "C0001\x00"}, "U+0000"),
            ({"no\ttab": "v"}, "U+0009"),
        ],
        ids=["51-keys", "long-key", "bracket", "long-value", "nul-value", "tab-key"],
    )
    def test_line_metadata_beyond_stripes_limits_is_refused_before_any_call(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        kit: Any,
        customer: str,
        metadata: dict[str, str],
        words: str,
    ) -> None:
        body = kit.invoice_command(customer)
        body["lines"][1]["metadata"] = metadata
        with stripe_untouched(emu):
            response = client.post(INVOICES, json=body)
        assert words in refused(response, "lines", "1", "metadata")

    def test_invoice_metadata_leaves_room_for_the_connectors_own_keys(
        self, client: FlaskClient, emu: EmulatorServer, kit: Any, customer: str
    ) -> None:
        body = kit.invoice_command(customer, metadata={f"k{i}": "v" for i in range(47)})
        with stripe_untouched(emu):
            response = client.post(INVOICES, json=body)
        assert "at most 46" in refused(response, "metadata")


class TestInvoiceStrings:
    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("bc_invoice_number", "PSI-1001\x00", "U+0000"),
            ("bc_invoice_number", "P" * 21, "at most 20"),
            ("bc_customer_number", "C\x7f1", "U+007F"),
            ("bc_company_id", "co:inv", "letters, digits"),
            ("bc_invoice_id", "inv'1", "letters, digits"),
            ("stripe_customer_id", "cus_1\x00", "U+0000"),
            ("stripe_customer_id", "in_1abc", "cus_"),
        ],
    )
    def test_fields_are_checked_before_any_call(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        kit: Any,
        customer: str,
        field: str,
        value: str,
        words: str,
    ) -> None:
        body = kit.invoice_command(customer, **{field: value})
        with stripe_untouched(emu):
            response = client.post(INVOICES, json=body)
        assert words in refused(response, field)

    @pytest.mark.parametrize(
        ("change", "field", "words"),
        [
            ({"description": "Consulting\x1b[2J"}, "description", "U+001B"),
            ({"description": "d" * 501}, "description", "at most 500"),
            ({"description": ""}, "description", "must not be empty"),
            ({"amount_minor": -(10**30)}, "amount_minor", "greater than or equal"),
        ],
    )
    def test_line_fields_are_checked_before_any_call(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        kit: Any,
        customer: str,
        change: dict[str, Any],
        field: str,
        words: str,
    ) -> None:
        body = kit.invoice_command(customer)
        body["lines"][0].update(change)
        with stripe_untouched(emu):
            response = client.post(INVOICES, json=body)
        assert words in refused(response, "lines", "0", field)


class TestCustomerStrings:
    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("name", "Fabrikam\x00Ltd", "U+0000"),
            ("name", "n" * 101, "at most 100"),
            ("email", "ap@fabrikam.example\r\nBcc: x@evil.example", "email"),
            ("bc_customer_number", "C" * 21, "at most 20"),
            ("bc_customer_id", "a:b", "letters, digits"),
            ("link_hint", "cus_1\u0085", "U+0085"),
        ],
    )
    def test_fields_are_checked_before_any_call(
        self, client: FlaskClient, emu: EmulatorServer, field: str, value: str, words: str
    ) -> None:
        with stripe_untouched(emu):
            response = client.post(CUSTOMERS, json=customer_command(**{field: value}))
        assert words.lower() in refused(response, field).lower()


class TestIdsInPaths:
    @pytest.mark.parametrize(
        ("method", "path", "field", "words"),
        [
            ("GET", "/commands/charges/in_1Abc", "charge_id", "ch_... or py_..."),
            ("GET", "/commands/charges/ch_1Abc%00", "charge_id", "U+0000"),
            ("GET", "/commands/charges/ch_" + "a" * 253, "charge_id", "at most 255"),
            ("GET", "/commands/invoices/in_1%27OR%27", "invoice_id", "in_..."),
            ("POST", "/commands/invoices/ch_1Abc/void", "invoice_id", "in_..."),
            ("POST", "/commands/invoices/in_1%0A/mark-paid-out-of-band", "invoice_id", "U+000A"),
            ("GET", "/commands/payouts/po_1%20x", "payout_id", "po_..."),
            ("GET", "/commands/payouts/in_1Abc/balance-transactions", "payout_id", "po_..."),
        ],
    )
    def test_a_malformed_or_wrong_kind_of_id_is_refused_before_any_call(
        self,
        client: FlaskClient,
        emu: EmulatorServer,
        method: str,
        path: str,
        field: str,
        words: str,
    ) -> None:
        with stripe_untouched(emu):
            response = client.open(path, method=method)
        assert words in refused(response, field)

    def test_well_formed_ids_still_reach_stripe(
        self, client: FlaskClient, emu: EmulatorServer
    ) -> None:
        for path in ("/commands/charges/ch_nope", "/commands/charges/py_nope"):
            response = client.get(path)
            assert response.status_code == 404, response.get_json()
        assert len(emu.requests(method="GET")) >= 2
