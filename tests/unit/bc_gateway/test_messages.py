"""Bus messages: contract-valid envelopes with deterministic ids."""

from __future__ import annotations

import datetime as dt

from bc_gateway.messages import notification_envelope
from bc_gateway.messages import notification_id
from bc_gateway.messages import observed_envelope
from bc_gateway.messages import observed_id
from bc_gateway.notifications import parse_notification
from mlconnector.contracts import BC_INVOICE_OBSERVED
from mlconnector.contracts import load_message

COMPANY = "b18aed47-c385-49d2-b954-dbdf8ad71780"
INVOICE = "130bbd17-dbb9-4790-9b12-2b0e9c9d22c3"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def element(**overrides: str) -> dict[str, str]:
    value = {
        "subscriptionId": "c670ea73cacb459bb51dc1740da2f1db",
        "clientState": "ignored",
        "resource": f"api/v2.0/companies({COMPANY})/salesInvoices({INVOICE})",
        "changeType": "updated",
        "lastModifiedDateTime": "2026-11-24T11:59:59.123Z",
    }
    value.update(overrides)
    return value


class TestNotificationMessages:
    def test_the_envelope_satisfies_the_contract(self) -> None:
        envelope = notification_envelope(
            parse_notification(element()), correlation_id="cid-1", received_at=NOW
        )
        loaded = load_message(envelope.to_json())
        assert loaded.type == "bc.notification.salesInvoices.updated"
        assert loaded.source == "bc"
        assert loaded.data["entity"] == "salesInvoices"
        assert loaded.data["company_id"] == COMPANY
        assert loaded.data["entity_id"] == INVOICE
        assert loaded.occurred_at == dt.datetime(2026, 11, 24, 11, 59, 59, 123000, tzinfo=dt.UTC)

    def test_the_id_depends_only_on_the_four_identifying_fields(self) -> None:
        base = notification_id(parse_notification(element()))
        assert base == notification_id(parse_notification(element(clientState="other")))
        # The same instant written differently is the same notification.
        same = element(lastModifiedDateTime="2026-11-24T11:59:59.1230000Z")
        assert base == notification_id(parse_notification(same))
        for change in (
            {"subscriptionId": "another"},
            {"changeType": "created"},
            {"lastModifiedDateTime": "2026-11-24T11:59:59.124Z"},
            {"resource": f"api/v2.0/companies({COMPANY})/salesInvoices({COMPANY})"},
        ):
            assert notification_id(parse_notification(element(**change))) != base


class TestObservedMessages:
    def test_the_envelope_satisfies_the_contract(self) -> None:
        envelope = observed_envelope(
            BC_INVOICE_OBSERVED,
            company_id=COMPANY.upper(),
            entity_id=INVOICE,
            number="PS-INV1001",
            modified=NOW,
            correlation_id="cid",
            received_at=NOW,
        )
        loaded = load_message(envelope.to_json())
        assert loaded.type == BC_INVOICE_OBSERVED
        assert loaded.data == {
            "company_id": COMPANY,
            "entity_id": INVOICE,
            "number": "PS-INV1001",
            "last_modified": NOW,
        }

    def test_the_id_is_the_same_for_the_poll_and_the_collection_path(self) -> None:
        first = observed_id(BC_INVOICE_OBSERVED, COMPANY, INVOICE, NOW)
        assert first == observed_id(BC_INVOICE_OBSERVED, COMPANY.upper(), INVOICE.upper(), NOW)
        later = NOW + dt.timedelta(milliseconds=1)
        assert first != observed_id(BC_INVOICE_OBSERVED, COMPANY, INVOICE, later)
        assert first != observed_id("bc.customer.observed", COMPANY, INVOICE, NOW)
