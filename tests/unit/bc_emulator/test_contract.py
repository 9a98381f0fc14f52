"""Every property bc-api.md §4/§7.1 documents is present with its JSON type, per entity.

The expected property lists are transcribed here from the reference on purpose (not imported
from the emulator's own schema tables), so a field dropped or retyped in the emulator fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

GUID = "guid"
STR = "string"
DEC = "decimal"
INT = "int"
DATE = "date"
DT = "datetime"
BOOL = "bool"

_CHECKS: dict[str, Callable[[Any], Any]] = {
    GUID: lambda v: (
        isinstance(v, str)
        and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", v)
    ),
    STR: lambda v: isinstance(v, str),
    DEC: lambda v: isinstance(v, int | Decimal) and not isinstance(v, bool),
    INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
    DATE: lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v),
    DT: lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z", v),
    BOOL: lambda v: isinstance(v, bool),
}

ADDRESS = {
    k: STR for k in ("addressLine1", "addressLine2", "city", "state", "country", "postalCode")
}

EXPECTED: dict[str, dict[str, str]] = {
    "companies": {
        "id": GUID,
        "systemVersion": STR,
        "timestamp": INT,
        "name": STR,
        "displayName": STR,
        "businessProfileId": STR,
        "systemCreatedAt": DT,
        "systemCreatedBy": GUID,
        "systemModifiedAt": DT,
        "systemModifiedBy": GUID,
    },
    "companyInformation": {
        "id": GUID,
        "displayName": STR,
        **ADDRESS,
        "phoneNumber": STR,
        "faxNumber": STR,
        "email": STR,
        "website": STR,
        "taxRegistrationNumber": STR,
        "currencyCode": STR,
        "currentFiscalYearStartDate": DATE,
        "industry": STR,
        "experience": STR,
        "lastModifiedDateTime": DT,
    },
    "customers": {
        "id": GUID,
        "number": STR,
        "displayName": STR,
        "type": STR,
        **ADDRESS,
        "phoneNumber": STR,
        "email": STR,
        "website": STR,
        "salespersonCode": STR,
        "balanceDue": DEC,
        "creditLimit": DEC,
        "taxLiable": BOOL,
        "taxAreaId": GUID,
        "taxAreaDisplayName": STR,
        "taxRegistrationNumber": STR,
        "currencyId": GUID,
        "currencyCode": STR,
        "paymentTermsId": GUID,
        "shipmentMethodId": GUID,
        "paymentMethodId": GUID,
        "blocked": STR,
        "lastModifiedDateTime": DT,
    },
    "salesInvoices": {
        "id": GUID,
        "number": STR,
        "externalDocumentNumber": STR,
        "invoiceDate": DATE,
        "postingDate": DATE,
        "dueDate": DATE,
        "promisedPayDate": DATE,
        "customerPurchaseOrderReference": STR,
        "customerId": GUID,
        "customerNumber": STR,
        "customerName": STR,
        "billToName": STR,
        "billToCustomerId": GUID,
        "billToCustomerNumber": STR,
        "shipToName": STR,
        "shipToContact": STR,
        **{
            f"{p}{s}": STR
            for p in ("sellTo", "billTo", "shipTo")
            for s in ("AddressLine1", "AddressLine2", "City", "Country", "State", "PostCode")
        },
        "currencyId": GUID,
        "currencyCode": STR,
        "shortcutDimension1Code": STR,
        "shortcutDimension2Code": STR,
        "orderId": GUID,
        "orderNumber": STR,
        "paymentTermsId": GUID,
        "shipmentMethodId": GUID,
        "salesperson": STR,
        "disputeStatusId": GUID,
        "disputeStatus": STR,
        "pricesIncludeTax": BOOL,
        "remainingAmount": DEC,
        "discountAmount": DEC,
        "discountAppliedBeforeTax": BOOL,
        "totalAmountExcludingTax": DEC,
        "totalTaxAmount": DEC,
        "totalAmountIncludingTax": DEC,
        "status": STR,
        "lastModifiedDateTime": DT,
        "phoneNumber": STR,
        "email": STR,
    },
    "salesInvoiceLines": {
        "id": GUID,
        "documentId": GUID,
        "sequence": INT,
        "itemId": GUID,
        "accountId": GUID,
        "lineType": STR,
        "lineObjectNumber": STR,
        "description": STR,
        "description2": STR,
        "unitOfMeasureId": GUID,
        "unitOfMeasureCode": STR,
        "quantity": DEC,
        "unitPrice": DEC,
        "discountAmount": DEC,
        "discountPercent": DEC,
        "discountAppliedBeforeTax": BOOL,
        "amountExcludingTax": DEC,
        "taxCode": STR,
        "taxPercent": DEC,
        "totalTaxAmount": DEC,
        "amountIncludingTax": DEC,
        "invoiceDiscountAllocation": DEC,
        "netAmount": DEC,
        "netTaxAmount": DEC,
        "netAmountIncludingTax": DEC,
        "shipmentDate": DATE,
        "itemVariantId": GUID,
        "locationId": GUID,
    },
    "customerPaymentJournals": {
        "id": GUID,
        "code": STR,
        "displayName": STR,
        "lastModifiedDateTime": DT,
        "balancingAccountId": GUID,
        "balancingAccountNumber": STR,
    },
    "customerPayments": {
        "id": GUID,
        "journalId": GUID,
        "journalDisplayName": STR,
        "lineNumber": INT,
        "customerId": GUID,
        "customerNumber": STR,
        "postingDate": DATE,
        "documentNumber": STR,
        "externalDocumentNumber": STR,
        "amount": DEC,
        "appliesToInvoiceId": GUID,
        "appliesToInvoiceNumber": STR,
        "description": STR,
        "comment": STR,
        "lastModifiedDateTime": DT,
    },
    "journals": {
        "id": GUID,
        "code": STR,
        "displayName": STR,
        "templateDisplayName": STR,
        "lastModifiedDateTime": DT,
        "balancingAccountId": GUID,
        "balancingAccountNumber": STR,
    },
    "journalLines": {
        "id": GUID,
        "journalId": GUID,
        "journalDisplayName": STR,
        "lineNumber": INT,
        "accountType": STR,
        "accountId": GUID,
        "accountNumber": STR,
        "postingDate": DATE,
        "documentNumber": STR,
        "externalDocumentNumber": STR,
        "amount": DEC,
        "description": STR,
        "comment": STR,
        "taxCode": STR,
        "balanceAccountType": STR,
        "balancingAccountId": GUID,
        "balancingAccountNumber": STR,
        "lastModifiedDateTime": DT,
    },
    "generalLedgerEntries": {
        "id": GUID,
        "entryNumber": INT,
        "postingDate": DATE,
        "documentNumber": STR,
        "documentType": STR,
        "accountId": GUID,
        "accountNumber": STR,
        "description": STR,
        "debitAmount": DEC,
        "creditAmount": DEC,
        "additionalCurrencyDebitAmount": DEC,
        "additionalCurrencyCreditAmount": DEC,
        "lastModifiedDateTime": DT,
    },
    "currencies": {
        "id": GUID,
        "code": STR,
        "displayName": STR,
        "symbol": STR,
        "amountDecimalPlaces": STR,
        "amountRoundingPrecision": DEC,
        "lastModifiedDateTime": DT,
    },
    "subscriptions": {
        "subscriptionId": STR,
        "notificationUrl": STR,
        "resource": STR,
        "timestamp": INT,
        "userId": GUID,
        "lastModifiedDateTime": DT,
        "clientState": STR,
        "expirationDateTime": DT,
        "systemCreatedAt": DT,
        "systemCreatedBy": GUID,
        "systemModifiedAt": DT,
        "systemModifiedBy": GUID,
    },
}


def assert_shape(entity: dict[str, Any], expected: dict[str, str]) -> None:
    """Every documented property is present with its type, plus an @odata.etag."""
    assert entity["@odata.etag"].startswith('W/"')
    missing = sorted(set(expected) - set(entity))
    assert not missing, f"missing properties: {missing}"
    wrong = {k: entity[k] for k, kind in expected.items() if not _CHECKS[kind](entity[k])}
    assert not wrong, f"wrong types: {wrong}"


@pytest.fixture
def world(api: Any, receiver: Any) -> dict[str, Any]:
    """One of everything: a posted invoice, a payment line, a general line, G/L entries."""
    invoice = api.seed(
        "invoices",
        {
            "customerNumber": "C10000",
            "post": True,
            "lines": [
                {
                    "lineType": "Account",
                    "lineObjectNumber": "40100",
                    "quantity": 1,
                    "unitPrice": Decimal("99.95"),
                }
            ],
        },
    )
    cash = api.setup["journals"]["CASHRCPT/DEFAULT"]
    general = api.setup["journals"]["GENERAL/DEFAULT"]
    payment = api.post(
        f"customerPaymentJournals({cash})/customerPayments",
        {
            "customerNumber": "C10000",
            "amount": Decimal("-10"),
            "appliesToInvoiceId": invoice["id"],
            "documentNumber": "PAY1",
        },
    )
    assert payment.status_code == 201, payment.text
    line = api.post(
        f"journals({general})/journalLines",
        {
            "accountNumber": "60100",
            "amount": Decimal("1.5"),
            "documentNumber": "FEE1",
            "balanceAccountType": "Bank_x0020_Account",
            "balancingAccountNumber": "CHECKING",
        },
    )
    assert line.status_code == 201, line.text
    subscription = api.http.post(
        f"{api.root}/subscriptions",
        json={
            "notificationUrl": receiver.url,
            "resource": f"companies({api.company_id})/customers",
        },
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert subscription.status_code == 201, subscription.text
    return {"invoice": invoice, "cash": cash, "general": general}


PATHS = {
    "companies": "{root}/companies",
    "companyInformation": "companyInformation",
    "customers": "customers",
    "salesInvoices": "salesInvoices",
    "salesInvoiceLines": "salesInvoices({invoice})/salesInvoiceLines",
    "customerPaymentJournals": "customerPaymentJournals",
    "customerPayments": "customerPaymentJournals({cash})/customerPayments",
    "journals": "journals",
    "journalLines": "journals({general})/journalLines",
    "generalLedgerEntries": "generalLedgerEntries",
    "currencies": "currencies",
    "subscriptions": "{root}/subscriptions",
}


@pytest.mark.parametrize("entity_set", sorted(PATHS))
def test_every_documented_property_has_its_type(
    entity_set: str, api: Any, world: dict[str, Any], kit: Any
) -> None:
    path = PATHS[entity_set].format(
        root=api.root, invoice=world["invoice"]["id"], cash=world["cash"], general=world["general"]
    )
    response = api.get(path)
    assert response.status_code == 200, response.text
    body = kit.loads(response)
    assert body["@odata.context"].startswith(api.root + "/$metadata#")
    assert body["value"], f"no {entity_set} rows to check"
    for entity in body["value"]:
        assert_shape(entity, EXPECTED[entity_set])


class TestEncodings:
    def test_enums_are_xml_encoded(self, api: Any, world: dict[str, Any], kit: Any) -> None:
        customer = kit.loads(api.get("customers"))["value"][0]
        assert customer["blocked"] == "_x0020_"
        line = kit.loads(api.get(f"journals({world['general']})/journalLines"))["value"][0]
        assert line["accountType"] == "G_x002F_L_x0020_Account"
        assert line["balanceAccountType"] == "Bank_x0020_Account"
        invoice = kit.loads(api.get(f"salesInvoices({world['invoice']['id']})"))
        assert invoice["status"] == "Open"

    def test_blank_values_are_typed_blanks_never_null(
        self, api: Any, world: dict[str, Any], kit: Any
    ) -> None:
        invoice = kit.loads(api.get(f"salesInvoices({world['invoice']['id']})"))
        assert invoice["promisedPayDate"] == "0001-01-01"
        assert invoice["currencyId"] == "00000000-0000-0000-0000-000000000000"
        assert invoice["orderNumber"] == ""
        assert None not in invoice.values()

    def test_code_fields_are_trimmed_and_upper_cased(self, api: Any, kit: Any) -> None:
        response = api.post(
            "salesInvoices",
            {"customerNumber": "c10000", "externalDocumentNumber": "  in_1AbCdEf  "},
        )
        assert response.status_code == 201, response.text
        body = kit.loads(response)
        assert body["externalDocumentNumber"] == "IN_1ABCDEF"
        assert body["customerNumber"] == "C10000"

    def test_lcy_currency_code_on_read_and_blank_on_write(self, api: Any, kit: Any) -> None:
        lcy = kit.loads(api.get("companyInformation"))["value"][0]["currencyCode"]
        assert lcy == "USD"
        created = kit.loads(
            api.post("customers", {"displayName": "LCY Ltd", "currencyCode": "USD"})
        )
        assert created["currencyCode"] == "USD"
        assert created["currencyId"] == "00000000-0000-0000-0000-000000000000"
        euro = kit.loads(api.post("customers", {"displayName": "Euro AG", "currencyCode": "EUR"}))
        assert euro["currencyCode"] == "EUR"
        assert euro["currencyId"] != "00000000-0000-0000-0000-000000000000"

    def test_amounts_are_exact_json_numbers(self, api: Any, kit: Any) -> None:
        response = api.post(
            "salesInvoices",
            {
                "customerNumber": "C10000",
                "salesInvoiceLines": [
                    {
                        "lineType": "Account",
                        "lineObjectNumber": "40100",
                        "quantity": 3,
                        "unitPrice": Decimal("0.1"),
                    }
                ],
            },
        )
        assert '"totalAmountIncludingTax":0.3' in response.text
        assert kit.loads(response)["totalAmountIncludingTax"] == Decimal("0.3")

    def test_unknown_currency_is_refused_with_bc_message(self, api: Any, kit: Any) -> None:
        response = api.post("customers", {"displayName": "X", "currencyCode": "XYZ"})
        assert response.status_code == 400
        error = kit.loads(response)["error"]
        assert error["code"] == "Application_DialogException"
        assert error["message"].startswith('The "currencyCode" does not match to a Currency.')

    def test_over_long_code_is_string_exceeded_length(self, api: Any, kit: Any) -> None:
        response = api.post(
            "salesInvoices", {"customerNumber": "C10000", "externalDocumentNumber": "X" * 36}
        )
        assert response.status_code == 400
        error = kit.loads(response)["error"]
        assert error["code"] == "Application_StringExceededLength"
        assert "The length of the string is 36" in error["message"]
