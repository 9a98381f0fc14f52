"""Pure parts of the command API: request schemas, amount checks, the retry loop."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from marshmallow import ValidationError

from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeCallError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import key_mode
from stripe_gateway.api.schemas import PushInvoiceSchema
from stripe_gateway.errors import TotalMismatch
from stripe_gateway.services.invoices import InvoiceLine
from stripe_gateway.services.invoices import PushInvoice
from stripe_gateway.services.invoices import check_amounts
from stripe_gateway.services.invoices import generation_key


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "bc_company_id": "co",
        "bc_invoice_id": "inv",
        "bc_invoice_number": "PSI-1",
        "bc_customer_number": "C1",
        "stripe_customer_id": "cus_1",
        "currency": "EUR",
        "days_until_due": 14,
        "lines": [{"description": "x", "amount_minor": 1000}],
        "expected_total_minor": 1000,
    }
    data.update(overrides)
    return data


def push(currency: str, *amounts: int, total: int | None = None) -> PushInvoice:
    lines = tuple(InvoiceLine("line", a) for a in amounts)
    return PushInvoice(
        "co", "inv", "N", "C", "cus_1", currency, 14, lines,
        sum(amounts) if total is None else total,
    )  # fmt: skip


class TestSchema:
    def test_loads_into_a_command_with_the_currency_in_wire_form(self) -> None:
        cmd = PushInvoiceSchema().load(body())
        assert isinstance(cmd, PushInvoice)
        assert cmd.currency == "eur"
        assert cmd.lines == (InvoiceLine("x", 1000, None, {}),)
        assert cmd.attempt == 1

    @pytest.mark.parametrize(
        "change",
        [
            {"expected_total_minor": True},
            {"expected_total_minor": 10.0},
            {"lines": [{"description": "x", "amount_minor": "1000"}]},
            {"currency": "eu"},
            {"metadata": {"k" * 41: "v"}},
            {"metadata": {"k": "v" * 501}},
            {"metadata": {f"k{i}": "v" for i in range(47)}},
            {"lines": [{"description": "x", "amount_minor": 1}] * 251},
            {"days_until_due": -1},
            {"attempt": 0},
        ],
        ids=lambda c: next(iter(c)),
    )
    def test_rejects(self, change: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            PushInvoiceSchema().load(body(**change))


class TestAmounts:
    def test_exact_totals_per_currency_exponent(self) -> None:
        assert check_amounts(push("JPY", 1500, 250)) == "jpy"
        assert check_amounts(push("kwd", 12345, 5)) == "kwd"
        assert check_amounts(push("usd", 1000, -250)) == "usd"

    @pytest.mark.parametrize(
        ("cmd", "words"),
        [
            (push("kwd", 12345), "multiple of 10"),
            (push("isk", 150), "multiple of 100"),
            (push("usd", -5), "negative"),
            (push("xxx", 100), "unknown currency"),
        ],
    )
    def test_refused_before_any_call(self, cmd: PushInvoice, words: str) -> None:
        with pytest.raises(ApiError) as info:
            check_amounts(cmd)
        assert info.value.status_code == 422
        assert words in info.value.message

    def test_lines_must_add_up_to_the_expected_total(self) -> None:
        with pytest.raises(TotalMismatch) as info:
            check_amounts(push("usd", 100, 200, total=301))
        assert info.value.details["expected_total_minor"] == 301
        assert info.value.details["actual_total_minor"] == 300


def test_key_generations() -> None:
    assert generation_key("mlc:a:b:finalize", 0) == "mlc:a:b:finalize"
    assert generation_key("mlc:a:b:finalize", 2) == "mlc:a:b:finalize:g2"


def test_key_mode_from_prefix() -> None:
    assert [key_mode(k) for k in ("sk_live_1", "rk_test_1", "pk_test_1")] == [
        "live",
        "test",
        "unknown",
    ]


class TestRetryLoop:
    """``StripeClient.call`` with a recorded sleep; no request leaves the process."""

    @staticmethod
    def client(sleeps: list[float], retries: int = 3) -> StripeClient:
        return StripeClient(
            "sk_test_unit",
            api_base="http://127.0.0.1:9",
            max_network_retries=0,
            timeout_s=1,
            rate_limit_retries=retries,
            sleep=sleeps.append,
        )

    @staticmethod
    def rate_limited(headers: dict[str, str] | None = None) -> stripe.RateLimitError:
        body = {"error": {"type": "invalid_request_error", "code": "rate_limit"}}
        return stripe.RateLimitError("slow down", "{}", 429, body, headers or {})

    def test_429s_are_retried_with_full_jitter_within_bounds(self) -> None:
        sleeps: list[float] = []
        failures = [self.rate_limited(), self.rate_limited(), self.rate_limited()]

        def call() -> str:
            if failures:
                raise failures.pop()
            return "ok"

        assert self.client(sleeps).call("op", call) == "ok"
        assert len(sleeps) == 3
        assert all(0 <= s <= cap for s, cap in zip(sleeps, (0.5, 1.0, 2.0), strict=True))

    def test_retries_are_bounded_then_classified(self) -> None:
        sleeps: list[float] = []

        def call() -> None:
            raise self.rate_limited()

        with pytest.raises(StripeCallError) as info:
            self.client(sleeps, retries=2).call("op", call)
        assert len(sleeps) == 2
        assert info.value.verdict.case.name == "rate_limited"
        assert info.value.operation == "op"

    def test_should_retry_false_is_honoured(self) -> None:
        sleeps: list[float] = []

        def call() -> None:
            raise self.rate_limited({"Stripe-Should-Retry": "false"})

        with pytest.raises(StripeCallError):
            self.client(sleeps).call("op", call)
        assert sleeps == []

    def test_an_unlisted_error_propagates_unchanged(self) -> None:
        def call() -> None:
            raise stripe.StripeError("brand new failure")

        with pytest.raises(stripe.StripeError, match="brand new failure") as info:
            self.client([]).call("op", call)
        assert not isinstance(info.value, StripeCallError)

    def test_the_backoff_ceiling_is_capped(self) -> None:
        client = self.client([])
        assert all(0 <= client.backoff(10) <= 4.0 for _ in range(50))
