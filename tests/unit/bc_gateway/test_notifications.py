"""Parsing BC notification payloads and resources (bc-api.md §7.4)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bc_gateway.notifications import MalformedNotification
from bc_gateway.notifications import MalformedPayload
from bc_gateway.notifications import parse_notification
from bc_gateway.notifications import parse_payload
from bc_gateway.notifications import parse_resource
from bc_gateway.notifications import parse_timestamp

COMPANY = "b18aed47-c385-49d2-b954-dbdf8ad71780"
CUSTOMER = "130bbd17-dbb9-4790-9b12-2b0e9c9d22c3"


class TestResource:
    @pytest.mark.parametrize(
        "resource",
        [
            f"api/v2.0/companies({COMPANY})/customers({CUSTOMER})",
            f"/api/v2.0/companies({COMPANY})/customers({CUSTOMER})",
            f"companies({COMPANY})/customers({CUSTOMER})",
            f"https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/companies({COMPANY})"
            f"/customers({CUSTOMER.upper()})",
        ],
    )
    def test_single_entity_in_every_form_bc_echoes(self, resource: str) -> None:
        target = parse_resource(resource)
        assert (target.entity, target.company_id, target.entity_id) == (
            "customers",
            COMPANY,
            CUSTOMER,
        )
        assert target.changed_since is None

    def test_collection_with_its_filter(self) -> None:
        target = parse_resource(
            f"/api/v2.0/companies({COMPANY})/salesInvoices"
            "?$filter=lastModifiedDateTime%20gt%202018-10-15T11:00:00.950Z"
        )
        assert (target.entity, target.entity_id) == ("salesInvoices", None)
        assert target.changed_since == dt.datetime(2018, 10, 15, 11, 0, 0, 950000, tzinfo=dt.UTC)

    def test_the_docs_spelling_of_the_filter_is_accepted(self) -> None:
        target = parse_resource(
            f"/api/v2.0/companies({COMPANY})/salesInvoices"
            "?$filter=lastDateTimeModified%20gt%202018-10-15T11:00:00Z"
        )
        assert target.changed_since == dt.datetime(2018, 10, 15, 11, tzinfo=dt.UTC)

    def test_quoted_code_keys_are_unescaped(self) -> None:
        target = parse_resource(f"companies({COMPANY})/items('A%2F100''X')")
        assert target.entity_id == "A/100'X"

    @pytest.mark.parametrize(
        "resource",
        [
            "",
            "/",
            f"companies({COMPANY})/sales-invoices",
            f"companies({COMPANY})/x?$filter=id eq 1",
        ],
    )
    def test_unreadable_resources(self, resource: str) -> None:
        with pytest.raises(MalformedNotification):
            parse_resource(resource)


class TestPayload:
    @pytest.mark.parametrize(
        "body", [b"", b"nope", b"[]", b"{}", b'{"value": {}}', b'{"value": ["x"]}']
    )
    def test_bodies_bc_cannot_have_sent(self, body: bytes) -> None:
        with pytest.raises(MalformedPayload):
            parse_payload(body)

    def test_the_docs_example_parses(self) -> None:
        raw = {
            "value": [
                {
                    "subscriptionId": "webhookCustomersId",
                    "clientState": "someClientState",
                    "expirationDateTime": "2018-10-29T12:50:30Z",
                    "resource": f"api/v2.0/companies({COMPANY})/customers({CUSTOMER})",
                    "changeType": "created",
                    "lastModifiedDateTime": "2018-10-26T12:54:26.057Z",
                }
            ]
        }
        [element] = parse_payload(json.dumps(raw).encode())
        notification = parse_notification(element)
        assert notification.change_type == "created"
        assert notification.last_modified.microsecond == 57000
        assert notification.target.entity_id == CUSTOMER

    @pytest.mark.parametrize(
        "change",
        [
            {"changeType": "renamed"},
            {"subscriptionId": ""},
            {"lastModifiedDateTime": "yesterday"},
            {"resource": None},
        ],
    )
    def test_unreadable_elements(self, change: dict[str, object]) -> None:
        element = {
            "subscriptionId": "s",
            "resource": f"companies({COMPANY})/customers({CUSTOMER})",
            "changeType": "updated",
            "lastModifiedDateTime": "2018-10-26T12:54:26Z",
            **change,
        }
        with pytest.raises(MalformedNotification):
            parse_notification(element)


def test_timestamps_with_seven_fraction_digits_and_no_zone() -> None:
    assert parse_timestamp("2026-01-02T03:04:05.1234567Z") == dt.datetime(
        2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC
    )
    assert parse_timestamp("2026-01-02T03:04:05").tzinfo == dt.UTC
