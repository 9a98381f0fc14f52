"""The BC error allow-list: one case per row, with bodies in BC's exact shape (bc-api.md §6.4)."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from bc_gateway.adapters.bc_errors import RULES
from bc_gateway.adapters.bc_errors import BCAuthError
from bc_gateway.adapters.bc_errors import BCConflict
from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.bc_errors import BCNotFound
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.bc_errors import BCRetryableError
from bc_gateway.adapters.bc_errors import BCUnexpectedError
from bc_gateway.adapters.bc_errors import error_from_response
from bc_gateway.adapters.bc_errors import parse_error_body
from bc_gateway.adapters.bc_errors import parse_retry_after
from bc_gateway.adapters.bc_errors import rule_for

CID = "1822e662-966b-4153-bd3c-f9bb8bfea1bf"


def body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": f"{message}  CorrelationId:  {CID}."}})


RETRY, PERMANENT = BCRetryableError, BCPermanentError

# (status, code, message, expected class) -- one row of RULES each, in order.
CASES = [
    (409, "Request_EntityChanged", "Another user has already changed the record.", BCConflict),
    (
        409,
        "Internal_EntityWithSameKeyExists",
        "The record in table Gen. Journal Batch already exists. Identification fields and "
        "values: Name='STRIPE'",
        PERMANENT,
    ),
    (409, "Internal_ConcurrencyConflict", "The operation could not complete.", RETRY),
    (408, "Request_Timeout", "The operation has timed out.", RETRY),
    (429, "Request_TooManyRequests", "Too many requests reached.", RETRY),
    (500, "Internal_ServerError", "An unexpected error occurred on the server.", RETRY),
    (502, "BadGateway", "The gateway received an invalid response.", RETRY),
    (
        503,
        "Internal_ServiceUnavailable",
        "The service is temporarily unavailable.",
        BCRetryableError,
    ),
    (504, "GatewayTimeout", "The request timed out.", RETRY),
    (
        401,
        "Authentication_InvalidCredentials",
        "The server has rejected the client credentials.",
        BCAuthError,
    ),
    (403, "Authorization_InsufficientPermissions", "You do not have permissions.", BCAuthError),
    (
        404,
        "Internal_RecordNotFound",
        "The Salesperson/Purchaser does not exist. Identification fields and values: Code='BC2'",
        BCNotFound,
    ),
    (404, "BadRequest_NotFound", "Bad Request - Error in query syntax.", BCNotFound),
    (404, "Internal_CompanyNotFound", "The company does not exist.", BCNotFound),
    (
        404,
        "BadRequest_ResourceNotFound",
        "Resource not found for the segment 'salesInvoicez'.",
        PERMANENT,
    ),
    (
        400,
        "Application_DialogException",
        'A "customerNumber" or a "customerId" must be provided.',
        PERMANENT,
    ),
    (
        400,
        "BadRequest_InvalidToken",
        "Could not validate the client concurrency token.",
        PERMANENT,
    ),
    (
        400,
        "Internal_InvalidTableRelation",
        "The field Customer No. has an invalid value.",
        PERMANENT,
    ),
    (400, "Unknown", "'Invalid Type' is not an option.", PERMANENT),
    (
        405,
        "BadRequest_MethodNotAllowed",
        "'POST' requests for 'companies' are not allowed.",
        PERMANENT,
    ),
    (413, "RequestEntityTooLarge", "The page size exceeds 20000.", PERMANENT),
]


@pytest.mark.parametrize(("status", "code", "message", "kind"), CASES)
def test_each_row_classifies_its_recorded_error(
    status: int, code: str, message: str, kind: type[BCError]
) -> None:
    error = error_from_response(status, body(code, message), None)
    assert type(error) is kind
    assert (error.status, error.code, error.message) == (status, code, message)
    assert error.correlation_id == CID


def test_every_row_has_a_case_in_order() -> None:
    matched = [rule_for(status, code) for status, code, _, _ in CASES]
    assert matched == list(RULES)


def test_an_answer_no_row_covers_is_unexpected() -> None:
    error = error_from_response(418, body("Teapot", "I am a teapot."), None)
    assert type(error) is BCUnexpectedError
    assert not isinstance(error, BCRetryableError | BCPermanentError)


def test_a_body_that_is_not_bcs_envelope_is_kept_short() -> None:
    code, message, correlation = parse_error_body("<html><body>Bad gateway</body></html>" * 20)
    assert code == ""
    assert len(message) <= 200
    assert correlation is None
    assert type(error_from_response(502, "<html/>", None)) is BCRetryableError


class TestRetryAfter:
    def test_seconds(self) -> None:
        assert parse_retry_after("7") == 7.0

    def test_http_date(self) -> None:
        now = time.time()
        value = email.utils.formatdate(now + 30, usegmt=True)
        assert 28 <= (parse_retry_after(value, now) or 0) <= 31

    @pytest.mark.parametrize("value", [None, "", "soon"])
    def test_absent_or_garbage(self, value: str | None) -> None:
        assert parse_retry_after(value) is None

    def test_the_error_carries_it(self) -> None:
        error = error_from_response(503, body("Internal_ServiceUnavailable", "Busy."), "4")
        assert error.retry_after_s == 4.0
