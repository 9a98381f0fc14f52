"""One test per row of ``stripe_errors.CASES``, each fed with an error as the SDK builds it.

Errors are built by the SDK's own status-to-exception mapping (``specific_v1_api_error``) from a
response body in the shape stripe-api.md §12 gives, so the SDK's quirks (a ``RateLimitError``
without ``code``; a 409 as a plain ``APIError``) are part of what is tested.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from stripe._api_requestor import _APIRequestor

from stripe_gateway.stripe_errors import CASES
from stripe_gateway.stripe_errors import Disposition
from stripe_gateway.stripe_errors import classify
from stripe_gateway.stripe_errors import error_code


def sdk_error(
    status: int,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    message: str = "error",
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> stripe.StripeError:
    body: dict[str, Any] = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
        body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code}"
    if param:
        body["error"]["param"] = param
    rheaders = {"Request-Id": "req_test123", **(headers or {})}
    error: stripe.StripeError = _APIRequestor.specific_v1_api_error(
        None,  # type: ignore[arg-type]  # the method does not use its instance
        json.dumps(body),
        status,
        body,
        rheaders,
        body["error"],
    )
    return error


def verdict_of(name: str, exc: stripe.StripeError, operation: str | None = None) -> Any:
    verdict = classify(exc, operation)
    assert verdict is not None, f"{name}: no row matched"
    assert verdict.case.name == name
    return verdict


class TestRetryable:
    def test_rate_limited(self) -> None:
        exc = sdk_error(
            429,
            code="rate_limit",
            message="Too many requests hit the API too quickly.",
            headers={"Stripe-Rate-Limited-Reason": "global-rate"},
        )
        assert isinstance(exc, stripe.RateLimitError)
        assert exc.code is None  # the SDK quirk: the code lives in exc.error.code
        assert error_code(exc) == "rate_limit"
        verdict = verdict_of("rate_limited", exc)
        assert verdict.disposition is Disposition.RETRYABLE
        assert verdict.retry_in_process
        assert verdict.case.api_code == "stripe_unavailable"

    def test_lock_timeout(self) -> None:
        exc = sdk_error(
            429,
            code="lock_timeout",
            message="This object cannot be accessed right now because another API request "
            "or Stripe process is currently accessing it.",
            headers={"Stripe-Should-Retry": "true"},
        )
        verdict = verdict_of("lock_timeout", exc)
        assert verdict.should_retry is True
        assert verdict.retry_in_process

    def test_too_many_requests_without_a_code(self) -> None:
        verdict = verdict_of("too_many_requests", sdk_error(429))
        assert verdict.retry_in_process

    def test_idempotency_key_in_use(self) -> None:
        exc = sdk_error(
            409,
            type_="idempotency_error",
            code="idempotency_key_in_use",
            message="There is currently another in-progress request using this Idempotent Key",
        )
        assert type(exc) is stripe.APIError
        verdict = verdict_of("idempotency_key_in_use", exc)
        assert verdict.retry_in_process

    def test_conflict(self) -> None:
        verdict = verdict_of("conflict", sdk_error(409, code="lock_conflict"))
        assert verdict.disposition is Disposition.RETRYABLE

    def test_server_error(self) -> None:
        exc = sdk_error(500, type_="api_error", message="An unknown error occurred")
        verdict = verdict_of("server_error", exc)
        assert verdict.disposition is Disposition.RETRYABLE
        assert not verdict.retry_in_process  # the SDK already retried it
        assert verdict.retry_after_s == 5.0

    def test_a_replayed_server_error_is_flagged_and_never_retried_in_process(self) -> None:
        exc = sdk_error(
            500,
            type_="api_error",
            headers={"Idempotent-Replayed": "true", "Stripe-Should-Retry": "false"},
        )
        verdict = verdict_of("server_error", exc)
        assert verdict.replayed
        assert verdict.should_retry is False
        assert not verdict.retry_in_process

    def test_connection_failed(self) -> None:
        exc = stripe.APIConnectionError("Unexpected error communicating with Stripe.")
        assert verdict_of("connection_failed", exc).disposition is Disposition.RETRYABLE

    def test_payout_not_reconciled(self) -> None:
        exc = sdk_error(
            400,
            code="payout_reconciliation_not_ready",
            param="payout",
            message="Balance transactions for payout po_123 are not available until its "
            "reconciliation has completed.",
        )
        verdict = verdict_of("payout_not_reconciled", exc)
        assert (verdict.case.api_status, verdict.retry_after_s) == (409, 60.0)

    def test_a_retry_after_header_overrides_the_default_hint(self) -> None:
        verdict = classify(sdk_error(503, type_="api_error", headers={"Retry-After": "17"}))
        assert verdict is not None
        assert verdict.retry_after_s == 17.0


class TestPermanentAndBenign:
    def test_idempotency_mismatch(self) -> None:
        exc = sdk_error(
            400,
            type_="idempotency_error",
            message="Keys for idempotent requests can only be used with the same parameters "
            "they were first used with.",
        )
        assert isinstance(exc, stripe.IdempotencyError)
        verdict = verdict_of("idempotency_mismatch", exc)
        assert verdict.disposition is Disposition.PERMANENT
        assert verdict.case.api_code == "idempotency_conflict"

    @pytest.mark.parametrize(
        "operation", ["finalize_invoice", "void_invoice", "pay_invoice_out_of_band"]
    )
    def test_already_transitioned_is_benign_for_state_changes(self, operation: str) -> None:
        exc = sdk_error(
            400,
            code="status_transition_invalid",
            message="This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        )
        assert verdict_of("already_transitioned", exc, operation).disposition is Disposition.BENIGN

    def test_the_same_error_elsewhere_is_an_ordinary_rejection(self) -> None:
        exc = sdk_error(400, code="status_transition_invalid")
        verdict = classify(exc, "add_invoice_lines")
        assert verdict is not None
        assert verdict.case.name == "invalid_request"

    def test_not_found(self) -> None:
        exc = sdk_error(
            404,
            code="resource_missing",
            param="customer",
            message="No such customer: 'cus_123'",
        )
        verdict = verdict_of("not_found", exc)
        assert (verdict.case.api_status, verdict.case.api_code) == (404, "not_found")

    def test_invalid_request(self) -> None:
        exc = sdk_error(
            400,
            code="parameter_unknown",
            param="foo",
            message="Received unknown parameter: foo",
        )
        verdict = verdict_of("invalid_request", exc)
        assert (verdict.case.api_status, verdict.case.api_code) == (422, "stripe_rejected")

    def test_card_declined(self) -> None:
        exc = sdk_error(402, type_="card_error", code="card_declined", message="Declined")
        assert isinstance(exc, stripe.CardError)
        assert verdict_of("card_declined", exc).disposition is Disposition.PERMANENT

    def test_authentication_failed(self) -> None:
        exc = sdk_error(401, code="api_key_expired", message="Expired API Key provided")
        verdict = verdict_of("authentication_failed", exc)
        assert (verdict.case.api_status, verdict.case.api_code) == (
            502,
            "stripe_credentials_rejected",
        )

    def test_permission_denied(self) -> None:
        exc = sdk_error(403, message="The provided key does not have the required permissions")
        assert verdict_of("permission_denied", exc).case.api_status == 502


class TestUnlisted:
    @pytest.mark.parametrize(
        "exc",
        [
            stripe.SignatureVerificationError("bad", "t=1,v1=x"),
            sdk_error(418, type_="api_error"),
            stripe.StripeError("something new"),
        ],
        ids=["signature", "teapot", "bare"],
    )
    def test_errors_no_row_knows_are_not_classified(self, exc: stripe.StripeError) -> None:
        assert classify(exc) is None


def test_every_row_has_a_test() -> None:
    tests = [
        name
        for cls in (TestRetryable, TestPermanentAndBenign)
        for name in vars(cls)
        if name.startswith("test_")
    ]
    untested = [c.name for c in CASES if not any(c.name in t for t in tests)]
    assert not untested, f"rows without a test named after them: {untested}"


def test_row_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
