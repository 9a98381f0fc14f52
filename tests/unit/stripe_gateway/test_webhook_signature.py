"""Header parsing and the two-sided timestamp window of ``webhook_signature``."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from stripe_gateway.webhook_signature import MAX_HEADER_LENGTH
from stripe_gateway.webhook_signature import SignatureRejected
from stripe_gateway.webhook_signature import parse_header
from stripe_gateway.webhook_signature import verify

SECRET = "whsec_unit_test_secret_one"
OTHER = "whsec_unit_test_secret_two"
BODY = b'{"id": "evt_1", "type": "invoice.paid"}'
HEX = "a" * 64


def sign(body: bytes, *secrets: str, t: int | None = None) -> str:
    ts = int(time.time()) if t is None else t
    sigs = [
        hmac.new(s.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest() for s in secrets
    ]
    return ",".join([f"t={ts}", *(f"v1={x}" for x in sigs)])


class TestParse:
    def test_reads_the_first_timestamp_and_every_v1(self) -> None:
        parsed = parse_header(f"t=100,v1={HEX},v0=ignored,t=200,v1={'b' * 64}")
        assert parsed.timestamp == 100
        assert parsed.signatures == (HEX, "b" * 64)

    def test_tolerates_spaces_around_elements(self) -> None:
        assert parse_header(f"t=5, v1={HEX}").timestamp == 5

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (None, "missing"),
            ("", "empty"),
            ("   ", "empty"),
            (f"v1={HEX}", "no t="),
            ("t=1", "no v1="),
            (f"t=1,v0={HEX}", "no v1="),
            (f"t=1.5,v1={HEX}", "not an integer"),
            (f"t=-1,v1={HEX}", "not an integer"),
            (f"t=１２,v1={HEX}", "not an integer"),  # full-width digits
            (f"t={'9' * 13},v1={HEX}", "not an integer"),
            ("t=1,v1=ABC", "64-digit hex"),
            (f"t=1,v1={'A' * 64}", "64-digit hex"),
            (f"t=1,{HEX}", "key=value"),
            (f"t=1,v1={HEX}," + "x" * MAX_HEADER_LENGTH, "longer than"),
        ],
    )
    def test_malformed_headers_are_rejected_with_a_reason(
        self, header: str | None, reason: str
    ) -> None:
        with pytest.raises(SignatureRejected) as info:
            parse_header(header)
        assert reason in info.value.reason


class TestVerify:
    def test_any_active_secret_matching_any_v1_passes(self) -> None:
        header = sign(BODY, OTHER)
        assert verify(BODY, header, [SECRET, OTHER]).signatures
        assert verify(BODY, sign(BODY, SECRET, OTHER), [OTHER])

    def test_no_matching_secret_is_rejected(self) -> None:
        with pytest.raises(SignatureRejected, match="no v1 signature matches"):
            verify(BODY, sign(BODY, OTHER), [SECRET])

    def test_empty_secrets_never_match(self) -> None:
        with pytest.raises(SignatureRejected):
            verify(BODY, sign(BODY, SECRET), ["", " "])

    @pytest.mark.parametrize(
        ("skew", "ok"), [(-301, False), (301, False), (-299, True), (299, True)]
    )
    def test_the_window_is_checked_in_both_directions(self, skew: int, ok: bool) -> None:
        now = int(time.time())
        header = sign(BODY, SECRET, t=now + skew)
        if ok:
            verify(BODY, header, [SECRET], now=now)
        else:
            with pytest.raises(SignatureRejected, match="tolerance window"):
                verify(BODY, header, [SECRET], now=now)

    def test_a_body_that_is_not_utf8_is_rejected(self) -> None:
        body = b"\xff\xfe{}"
        with pytest.raises(SignatureRejected, match="UTF-8"):
            verify(body, sign(body, SECRET), [SECRET])

    def test_the_body_bytes_are_what_is_signed(self) -> None:
        header = sign(BODY, SECRET)
        with pytest.raises(SignatureRejected):
            verify(BODY + b" ", header, [SECRET])

    def test_a_zero_tolerance_is_refused(self) -> None:
        with pytest.raises(ValueError, match="tolerance"):
            verify(BODY, sign(BODY, SECRET), [SECRET], tolerance_s=0)

    def test_reasons_never_contain_the_header_body_or_secret(self) -> None:
        header = sign(BODY, OTHER)
        with pytest.raises(SignatureRejected) as info:
            verify(BODY, header, [SECRET])
        text = str(info.value)
        assert SECRET not in text
        assert header.split(",")[1] not in text
        assert BODY.decode() not in text
