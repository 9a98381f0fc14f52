"""Small value translations: BC enums, OData literals and filters, document numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bc_gateway.adapters.bc_client import HttpBCClient
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.odata import odata_string
from bc_gateway.adapters.odata import query_string
from bc_gateway.adapters.token import MsalTokenProvider
from bc_gateway.journals import document_number
from bc_gateway.observe import modified_filter
from bc_gateway.services import amount
from bc_gateway.services import date_value
from bc_gateway.services import decode_enum
from bc_gateway.services import encode_enum


@pytest.mark.parametrize(
    ("wire", "caption"),
    [
        ("In_x0020_Review", "In Review"),
        ("G_x002F_L_x0020_Account", "G/L Account"),
        ("_x0020_", " "),
        ("Open", "Open"),
    ],
)
def test_enums_decode_and_encode(wire: str, caption: str) -> None:
    assert decode_enum(wire) == caption
    assert encode_enum(caption) == wire


def test_odata_literals_and_query_strings() -> None:
    assert odata_string("O'Brien") == "'O''Brien'"
    query = query_string({"$filter": "status eq 'Open'", "$top": "1"})
    assert query == "$filter=status%20eq%20'Open'&$top=1"  # spaces as %20, never as +


def test_modified_filter() -> None:
    since = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    assert modified_filter(since, status="Open") == (
        "status eq 'Open' and lastModifiedDateTime gt 2026-01-02T03:04:05.600Z"
    )
    assert modified_filter(None) is None


def test_document_numbers_are_deterministic_code20() -> None:
    first = document_number("SP", "payment:PI_3ABC")
    assert first == document_number("SP", "payment:pi_3abc")
    assert len(first) == 20
    assert first.startswith("SP")
    assert first == first.upper()
    assert first != document_number("SP", "payment:PI_3ABD")


def test_amounts_and_dates_from_bc() -> None:
    assert amount(1500) == Decimal(1500)
    assert amount(Decimal("12.30")) == Decimal("12.30")
    with pytest.raises(BCPermanentError):
        amount("12.30")
    assert date_value("0001-01-01") is None
    assert date_value("2026-02-03") == dt.date(2026, 2, 3)


def test_a_next_link_to_another_host_is_refused() -> None:
    tokens = MsalTokenProvider("https://login.example/t", "id", "secret-value-1")
    client = HttpBCClient("https://bc.example/v2.0/t/production/api/v2.0", "c", tokens)
    assert client._follow("https://bc.example:443/v2.0/t/production/api/v2.0/x?$skiptoken=1")
    with pytest.raises(BCPermanentError, match="another host"):
        client._follow("https://evil.example/v2.0/t/production/api/v2.0/x")
