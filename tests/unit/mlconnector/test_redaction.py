"""Tests for mlconnector.redaction: exact registered values and secret-looking patterns."""

from __future__ import annotations

import datetime as dt
import json
import threading
import traceback
from collections.abc import Iterator
from decimal import Decimal

import pytest

from mlconnector.redaction import MASK
from mlconnector.redaction import forget_registered_secrets
from mlconnector.redaction import redact
from mlconnector.redaction import redact_data
from mlconnector.redaction import register_secret
from mlconnector.redaction import register_secrets


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    """Registered secrets are process-wide: never let one test's values leak into another."""
    forget_registered_secrets()
    yield
    forget_registered_secrets()


class TestPatterns:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param(
                "charging with sk_live_51HxAbCdEf0123 now",
                "charging with [REDACTED] now",
                id="stripe-live-secret-key",
            ),
            pytest.param(
                "key=sk_test_4eC39HqLyjWDarjtT1zdp7dc, retrying",
                "key=[REDACTED], retrying",
                id="stripe-test-secret-key",
            ),
            pytest.param(
                "restricted rk_live_51HabcDEF987 used",
                "restricted [REDACTED] used",
                id="restricted-live-key",
            ),
            pytest.param(
                "restricted rk_test_51HabcDEF987 used",
                "restricted [REDACTED] used",
                id="restricted-test-key",
            ),
            pytest.param(
                "other restricted rk_abcdEFGH1234 used",
                "other restricted [REDACTED] used",
                id="restricted-key-any-mode",
            ),
            pytest.param(
                "signing with whsec_Ab12+/cd34=_-ef ok",
                "signing with [REDACTED] ok",
                id="webhook-signing-secret",
            ),
            pytest.param(
                "vault login hvs.CAESIJ1abcdefGHIJklmn_-xyz done",
                "vault login [REDACTED] done",
                id="vault-service-token",
            ),
            pytest.param(
                "batch hvb.AAAAAQJabcdefghij1234 done",
                "batch [REDACTED] done",
                id="vault-batch-token",
            ),
            pytest.param(
                "Authorization: Bearer eyJhbGciOi.J9abc.def-ghi_123~+/= sent",
                "Authorization: Bearer [REDACTED] sent",
                id="bearer-token",
            ),
            pytest.param(
                "header authorization: bearer abcdefgh12345678",
                "header authorization: bearer [REDACTED]",
                id="bearer-lowercase",
            ),
            pytest.param(
                "Authorization: Basic dXNlcjpwYXNzd29yZA== sent",
                "Authorization: Basic [REDACTED] sent",
                id="basic-auth",
            ),
            pytest.param(
                "grant_type=client_credentials&client_secret=Abc~123.xyz&scope=api",
                "grant_type=client_credentials&client_secret=[REDACTED]&scope=api",
                id="client-secret-form-pair",
            ),
            pytest.param(
                '{"client_id": "app-1", "client_secret": "s3cr3t value"}',
                '{"client_id": "app-1", "client_secret": "[REDACTED]"}',
                id="client-secret-json",
            ),
            pytest.param(
                '{"user": "bob", "password": "correct horse battery", "ok": true}',
                '{"user": "bob", "password": "[REDACTED]", "ok": true}',
                id="password-json-with-spaces",
            ),
            pytest.param(
                '{"password":"p\\"w d"}',
                '{"password":"[REDACTED]"}',
                id="password-json-escaped-quote",
            ),
            pytest.param(
                "{'password': 'hunter2!', 'user': 'bob'}",
                "{'password': '[REDACTED]', 'user': 'bob'}",
                id="password-python-repr",
            ),
            pytest.param(
                "login failed for bob password=hunter2; retry",
                "login failed for bob password=[REDACTED]; retry",
                id="password-pair",
            ),
            pytest.param(
                "refresh_token: 0.AXoA-abc, expires 3600",
                "refresh_token: [REDACTED], expires 3600",
                id="refresh-token-pair",
            ),
            pytest.param(
                "MLC_MASTER_KEY=abcdef0123456789 MLC_BC_CLIENT_SECRET=x~y.z",
                "MLC_MASTER_KEY=[REDACTED] MLC_BC_CLIENT_SECRET=[REDACTED]",
                id="secret-environment-variables",
            ),
            pytest.param(
                "connecting to amqp://guest:s3cret@rabbit:5672/%2F failed",
                "connecting to amqp://guest:[REDACTED]@rabbit:5672/%2F failed",
                id="amqp-url-password",
            ),
            pytest.param(
                "GET https://user:p%40ss@example.com/path?q=1 failed",
                "GET https://user:[REDACTED]@example.com/path?q=1 failed",
                id="https-url-password",
            ),
            pytest.param(
                "postgresql+psycopg://mlc:pw-123@db:5432/mlc",
                "postgresql+psycopg://mlc:[REDACTED]@db:5432/mlc",
                id="database-url-password",
            ),
        ],
    )
    def test_masks_the_secret_and_keeps_the_surrounding_text(
        self, text: str, expected: str
    ) -> None:
        assert redact(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "invoice 103001 paid via pi_3NabcDEF for customer cus_ABC123 (evt_1Nxyz)",
            "publishable key pk_test_abc123 is public",
            "task_live_feed and desk_test_plan are not keys",
            "https://example.com:8443/path?x=1",
            "https://user@example.com/path",
            "Bearer short",
            "token expired",
            "MLC_MASTER_KEY_FILE=/etc/mlc/master.key",
            "",
        ],
    )
    def test_leaves_ordinary_text_alone(self, text: str) -> None:
        assert redact(text) == text

    def test_masks_every_secret_in_a_text_with_several(self) -> None:
        text = (
            "cfg sk_live_AAAA1111 whsec_BBBB2222 amqp://u:CCCC3333@h/ "
            "Bearer DDDD4444DDDD password=EEEE5555"
        )
        out = redact(text)
        for fragment in ("AAAA1111", "BBBB2222", "CCCC3333", "DDDD4444", "EEEE5555"):
            assert fragment not in out
        assert out.count(MASK) == 5

    def test_redacting_twice_changes_nothing_more(self) -> None:
        text = 'Bearer abcdefgh123 {"password": "a b"} amqp://u:p@h sk_test_abc123'
        once = redact(text)
        assert redact(once) == once

    def test_spans_lines_without_swallowing_them(self) -> None:
        text = "line one password='unterminated\nline two stays"
        out = redact(text)
        assert "unterminated" not in out
        assert out.endswith("\nline two stays")


class TestRegisteredSecrets:
    def test_a_registered_value_is_masked_in_plain_text(self) -> None:
        register_secret("Tr0ub4dor&3-bc-secret")
        assert redact("using Tr0ub4dor&3-bc-secret today") == "using [REDACTED] today"

    def test_a_registered_value_is_masked_inside_json(self) -> None:
        register_secret("opaque-value-42")
        text = json.dumps({"config": {"value": "opaque-value-42"}, "n": 1})
        out = redact(text)
        assert "opaque-value-42" not in out
        assert json.loads(out) == {"config": {"value": MASK}, "n": 1}

    def test_a_registered_value_is_masked_inside_a_url(self) -> None:
        register_secret("q7Zp9-query-secret")
        out = redact("GET https://bc.example/api?sig=q7Zp9-query-secret&x=1")
        assert out == "GET https://bc.example/api?sig=[REDACTED]&x=1"

    def test_a_registered_value_is_masked_inside_a_traceback(self) -> None:
        register_secret("value-from-the-store")
        try:
            raise RuntimeError("could not use value-from-the-store")
        except RuntimeError:
            formatted = traceback.format_exc()
        out = redact(formatted)
        assert "value-from-the-store" not in out
        assert "RuntimeError: could not use [REDACTED]" in out

    def test_a_value_without_any_secret_shape_is_only_caught_once_registered(self) -> None:
        text = "tenant plain-looking-value"
        assert redact(text) == text
        register_secret("plain-looking-value")
        assert redact(text) == "tenant [REDACTED]"

    def test_register_secrets_adds_several_at_once(self) -> None:
        register_secrets(["first-secret", "second-secret", "third-secret"])
        out = redact("first-secret second-secret third-secret")
        assert out == f"{MASK} {MASK} {MASK}"

    def test_regex_characters_in_a_value_are_matched_literally(self) -> None:
        register_secret("p.a+s$(1)")
        assert redact("x p.a+s$(1) y") == "x [REDACTED] y"
        assert redact("x pXa+s$(1) y") == "x pXa+s$(1) y"

    @pytest.mark.parametrize("value", ["", "a", "12345", "abcde"])
    def test_values_shorter_than_the_minimum_are_not_registered(self, value: str) -> None:
        register_secret(value)
        text = f"id {value} and 12345 abcde a"
        assert redact(text) == text

    def test_a_value_at_the_minimum_length_is_registered(self) -> None:
        register_secret("abcdef")
        assert redact("x abcdef y") == "x [REDACTED] y"

    @pytest.mark.parametrize(
        "values",
        [["shared-prefix", "shared-prefix-longer"], ["shared-prefix-longer", "shared-prefix"]],
    )
    def test_the_longest_value_is_replaced_first(self, values: list[str]) -> None:
        for value in values:
            register_secret(value)
        assert redact("a shared-prefix-longer b") == "a [REDACTED] b"
        assert redact("a shared-prefix b") == "a [REDACTED] b"

    def test_registering_a_value_twice_is_harmless(self) -> None:
        register_secret("twice-registered")
        register_secret("twice-registered")
        assert redact("twice-registered") == MASK

    def test_forget_registered_secrets_drops_every_value(self) -> None:
        register_secrets(["forgotten-one", "forgotten-two"])
        forget_registered_secrets()
        assert redact("forgotten-one forgotten-two") == "forgotten-one forgotten-two"

    def test_patterns_still_apply_after_forgetting(self) -> None:
        register_secret("forgotten-one")
        forget_registered_secrets()
        assert redact("sk_live_abc123") == MASK

    def test_concurrent_registration_loses_no_value(self) -> None:
        def register_batch(batch: int) -> None:
            for i in range(15):
                register_secret(f"thread-{batch}-secret-{i:03d}")

        threads = [threading.Thread(target=register_batch, args=(b,)) for b in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        text = " ".join(f"thread-{b}-secret-{i:03d}" for b in range(4) for i in range(15))
        assert set(redact(text).split(" ")) == {MASK}


class TestRedactData:
    def test_redacts_every_string_in_nested_structures(self) -> None:
        register_secret("nested-secret-1")
        data = {
            "outer": {"inner": ["ok", "nested-secret-1", ("sk_test_abc123", 7)]},
            "url": "amqp://u:pw@h/",
        }
        assert redact_data(data) == {
            "outer": {"inner": ["ok", MASK, [MASK, 7]]},
            "url": "amqp://u:[REDACTED]@h/",
        }

    def test_redacts_mapping_keys(self) -> None:
        out = redact_data({"sk_live_abc123": ["Unknown field."]})
        assert out == {MASK: ["Unknown field."]}

    def test_keeps_json_scalars_as_they_are(self) -> None:
        data = {"n": 3, "x": 1.5, "flag": True, "none": None}
        assert redact_data(data) == data
        assert redact_data(data)["flag"] is True

    def test_other_objects_become_their_redacted_text(self) -> None:
        class Holder:
            def __str__(self) -> str:
                return "Holder password=hunter2 end"

        out = redact_data(
            {"amount": Decimal("10.50"), "holder": Holder(), "at": dt.date(2024, 5, 1)}
        )
        assert out == {
            "amount": "10.50",
            "holder": "Holder password=[REDACTED] end",
            "at": "2024-05-01",
        }
        json.dumps(out)  # everything is JSON-ready

    def test_matches_a_secret_whose_json_form_would_be_escaped(self) -> None:
        register_secret('quote"and\\backslash')
        encoded = json.dumps(redact_data({"msg": 'got quote"and\\backslash here'}))
        assert json.loads(encoded) == {"msg": "got [REDACTED] here"}

    def test_does_not_modify_its_input(self) -> None:
        data = {"token": ["sk_live_abc123"]}
        redact_data(data)
        assert data == {"token": ["sk_live_abc123"]}
