"""Service tokens: issuing, verifying, the refusals, and rotation without a refused call."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from mlconnector import secrets_cli
from mlconnector.identity import IDENTITY_PATH
from mlconnector.identity import JWKS_KEY
from mlconnector.identity import SIGNING_KEY
from mlconnector.identity import AuthenticationFailed
from mlconnector.identity import CallerPolicy
from mlconnector.identity import IdentityUnavailable
from mlconnector.identity import SigningKey
from mlconnector.identity import TokenIssuer
from mlconnector.identity import TokenVerifier
from mlconnector.identity import jwks_document
from mlconnector.identity import parse_jwks
from mlconnector.identity import thumbprint
from mlconnector.secrets_file import EncryptedFileSecrets


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Source:
    """A text source that counts its reads and can be changed or made to fail."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.reads = 0
        self.failing = False

    def __call__(self) -> str | None:
        self.reads += 1
        if self.failing:
            raise OSError("store down")
        return self.text


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate("reconciler")


def _pair(
    key: SigningKey, clock: Clock, *extra: SigningKey
) -> tuple[TokenIssuer, TokenVerifier, Source]:
    jwks = Source(jwks_document([key.public_jwk(), *(k.public_jwk() for k in extra)]))
    issuer = TokenIssuer(Source(key.to_json()), clock=clock)
    verifier = TokenVerifier(jwks, audience="bc-gateway", clock=clock)
    return issuer, verifier, jwks


class TestKeys:
    def test_private_jwk_round_trips_and_the_kid_is_the_rfc7638_thumbprint(
        self, key: SigningKey
    ) -> None:
        again = SigningKey.from_json(key.to_json())
        assert again.kid == key.kid == thumbprint(key.public_x)
        assert again.subject == "reconciler"
        # RFC 7638 §3.1 builds the hash input from crv, kty and x only, in that order.
        assert len(key.kid) == 43
        assert "=" not in key.kid

    def test_a_public_entry_under_another_keys_id_is_refused(self, key: SigningKey) -> None:
        other = SigningKey.generate("reconciler")
        entry = {**key.public_jwk(), "kid": other.kid}
        with pytest.raises(IdentityUnavailable, match="misnamed"):
            parse_jwks(jwks_document([entry]))

    def test_a_broken_private_key_never_echoes_its_text(self) -> None:
        with pytest.raises(IdentityUnavailable) as caught:
            SigningKey.from_json('{"kty": "OKP", "crv": "Ed25519", "d": "c2VjcmV0LXZhbHVl"}')
        assert "c2VjcmV0" not in str(caught.value)

    @pytest.mark.parametrize("name", ["", "a b", "x" * 65, "ünïcode", "a=b"])
    def test_caller_names_are_plain(self, name: str) -> None:
        with pytest.raises(ValueError, match="caller name"):
            SigningKey.generate(name)


class TestTokens:
    def test_a_token_names_issuer_subject_audience_and_a_short_life(self, key: SigningKey) -> None:
        clock = Clock()
        issuer, verifier, _ = _pair(key, clock)
        token = issuer.token("bc-gateway")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["iss"] == claims["sub"] == "reconciler"
        assert claims["aud"] == "bc-gateway"
        assert claims["exp"] - claims["iat"] == 300
        assert jwt.get_unverified_header(token)["kid"] == key.kid
        caller = verifier.verify(token)
        assert (caller.subject, caller.kid) == ("reconciler", key.kid)

    def test_a_token_is_reused_for_half_its_life_then_renewed(self, key: SigningKey) -> None:
        clock = Clock()
        issuer, verifier, _ = _pair(key, clock)
        first = issuer.token("bc-gateway")
        clock.now += 149
        assert issuer.token("bc-gateway") == first
        assert issuer.token("stripe-gateway") != first
        clock.now += 2
        renewed = issuer.token("bc-gateway")
        assert renewed != first
        assert verifier.verify(renewed).subject == "reconciler"

    def test_expiry_allows_only_the_leeway(self, key: SigningKey) -> None:
        clock = Clock()
        issuer, verifier, _ = _pair(key, clock)
        token = issuer.token("bc-gateway")
        clock.now += 300 + 29
        assert verifier.verify(token)
        clock.now += 2
        with pytest.raises(AuthenticationFailed, match="expired"):
            verifier.verify(token)

    def test_a_token_for_the_other_gateway_is_refused(self, key: SigningKey) -> None:
        issuer, verifier, _ = _pair(key, Clock())
        with pytest.raises(AuthenticationFailed, match="another service"):
            verifier.verify(issuer.token("stripe-gateway"))

    def test_a_key_cannot_speak_for_another_caller(self, key: SigningKey) -> None:
        auditor = SigningKey.generate("auditor")
        clock = Clock()
        _, verifier, _ = _pair(key, clock, auditor)
        forged = jwt.encode(
            {
                "iss": "reconciler",
                "sub": "reconciler",
                "aud": "bc-gateway",
                "iat": int(clock.now),
                "exp": int(clock.now) + 60,
                "jti": "x",
            },
            auditor.private_key,
            algorithm="EdDSA",
            headers={"kid": auditor.kid},
        )
        with pytest.raises(AuthenticationFailed, match="issuer does not own"):
            verifier.verify(forged)

    @pytest.mark.parametrize(
        ("token", "reason"),
        [
            ("x" * 5000, "too long"),
            ("not.a.jwt", "not a JWT"),
            ("eyJhbGciOiJub25lIn0.e30.", "signed with EdDSA"),
        ],
    )
    def test_garbage_is_refused_with_a_reason(
        self, key: SigningKey, token: str, reason: str
    ) -> None:
        _, verifier, _ = _pair(key, Clock())
        with pytest.raises(AuthenticationFailed, match=reason):
            verifier.verify(token)

    def test_the_time_claims_must_be_integers(self, key: SigningKey) -> None:
        clock = Clock()
        _, verifier, _ = _pair(key, clock)
        claims = {"iss": "reconciler", "sub": "reconciler", "aud": "bc-gateway", "jti": "j"}
        token = jwt.encode(
            {**claims, "iat": clock.now + 0.5, "exp": clock.now + 60.5},
            key.private_key,
            algorithm="EdDSA",
            headers={"kid": key.kid},
        )
        with pytest.raises(AuthenticationFailed, match="integers"):
            verifier.verify(token)

    def test_the_issuer_refuses_a_lifetime_longer_than_verifiers_accept(self) -> None:
        with pytest.raises(ValueError, match="lifetime"):
            TokenIssuer(lambda: None, lifetime_s=3600)


class TestKeySetReading:
    def test_an_unknown_key_makes_the_verifier_read_the_set_again_but_not_too_often(
        self, key: SigningKey
    ) -> None:
        clock = Clock()
        newer = SigningKey.generate("reconciler")
        _, verifier, jwks = _pair(key, clock)
        verifier.verify(TokenIssuer(Source(key.to_json()), clock=clock).token("bc-gateway"))
        reads = jwks.reads
        token = TokenIssuer(Source(newer.to_json()), clock=clock).token("bc-gateway")
        with pytest.raises(AuthenticationFailed, match="unknown key"):
            verifier.verify(token)
        with pytest.raises(AuthenticationFailed, match="unknown key"):
            verifier.verify(token)
        assert jwks.reads == reads  # read at most every 5 s, however many forged kids arrive
        jwks.text = jwks_document([key.public_jwk(), newer.public_jwk()])
        clock.now += 5
        assert verifier.verify(token).kid == newer.kid
        assert jwks.reads == reads + 1

    def test_a_retired_key_is_refused_after_the_refresh_interval(self, key: SigningKey) -> None:
        clock = Clock()
        issuer, verifier, jwks = _pair(key, clock)
        token = issuer.token("bc-gateway")
        verifier.verify(token)
        jwks.text = jwks_document([SigningKey.generate("reconciler").public_jwk()])
        clock.now += 59
        assert verifier.verify(token)
        clock.now += 1
        with pytest.raises(AuthenticationFailed, match="unknown key"):
            verifier.verify(token)

    def test_a_store_outage_keeps_the_last_key_set_but_a_first_read_must_succeed(
        self, key: SigningKey
    ) -> None:
        clock = Clock()
        issuer, verifier, jwks = _pair(key, clock)
        jwks.failing = True
        with pytest.raises(IdentityUnavailable):
            verifier.verify(issuer.token("bc-gateway"))
        jwks.failing = False
        verifier.verify(issuer.token("bc-gateway"))
        jwks.failing = True
        clock.now += 120
        assert verifier.verify(issuer.token("bc-gateway")).subject == "reconciler"

    def test_no_key_set_is_an_operations_error_naming_the_fix(self, key: SigningKey) -> None:
        verifier = TokenVerifier(Source(None), audience="bc-gateway", clock=Clock())
        token = TokenIssuer(Source(key.to_json()), clock=Clock()).token("bc-gateway")
        with pytest.raises(IdentityUnavailable, match="mlc-secrets identity rotate"):
            verifier.verify(token)


class TestPolicy:
    def test_grants_per_caller_and_everything_for_star(self) -> None:
        policy = CallerPolicy.parse("reconciler=*; auditor=bc:read,stripe:read")
        assert policy.allows("reconciler", "bc:post")
        assert policy.allows("auditor", "bc:read")
        assert not policy.allows("auditor", "bc:write")
        assert not policy.allows("stranger", "bc:read")

    @pytest.mark.parametrize("text", ["", "reconciler", "reconciler=", "bad name=*"])
    def test_a_policy_that_cannot_be_read_is_an_error(self, text: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            CallerPolicy.parse(text)


class TestRotationWithoutDowntime:
    """``mlc-secrets identity rotate`` then ``retire``, while calls keep flowing."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EncryptedFileSecrets:
        path = tmp_path / "secrets.enc"
        for name in ("MLC_SECRETS_BACKEND", "MLC_VAULT_ADDR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLC_SECRETS_FILE", str(path))
        monkeypatch.setenv("MLC_MASTER_KEY", "rotation-test-master-key")
        return EncryptedFileSecrets(path, "rotation-test-master-key")

    def test_every_call_is_accepted_through_a_rotation_and_the_old_key_dies_after_retire(
        self, store: EncryptedFileSecrets, capsys: pytest.CaptureFixture[str]
    ) -> None:
        clock = Clock()

        def reader(path: str, key: str) -> Callable[[], str | None]:
            return lambda: store.read(path).get(key)

        issuer = TokenIssuer(reader("ml-connector/reconciler", SIGNING_KEY), clock=clock)
        verifiers = [
            TokenVerifier(reader(IDENTITY_PATH, JWKS_KEY), audience=aud, clock=clock)
            for aud in ("bc-gateway", "stripe-gateway")
        ]

        def call_everyone() -> None:
            for verifier, aud in zip(verifiers, ("bc-gateway", "stripe-gateway"), strict=True):
                assert verifier.verify(issuer.token(aud)).subject == "reconciler"

        assert secrets_cli.main(["identity", "rotate"]) == 0
        old_kid = json.loads(store.read(IDENTITY_PATH)[JWKS_KEY])["keys"][0]["kid"]
        old_token = issuer.token("bc-gateway")
        for _ in range(3):
            call_everyone()
            clock.now += 20
        assert secrets_cli.main(["identity", "rotate"]) == 0
        assert f"retire {old_kid}" in capsys.readouterr().out
        for _ in range(20):  # 400 s: the issuer switches keys, every call is still accepted
            call_everyone()
            clock.now += 20
        new_kid = SigningKey.from_json(store.read("ml-connector/reconciler")[SIGNING_KEY]).kid
        assert jwt.get_unverified_header(issuer.token("bc-gateway"))["kid"] == new_kid != old_kid
        assert secrets_cli.main(["identity", "retire", old_kid]) == 0
        capsys.readouterr()
        clock.now += 60
        call_everyone()
        forged_late = jwt.encode(
            {**jwt.decode(old_token, options={"verify_signature": False}), "exp": clock.now + 60},
            "not the key, but long enough for HS256",
            algorithm="HS256",
        )
        with pytest.raises(AuthenticationFailed):
            verifiers[0].verify(forged_late)
        assert secrets_cli.main(["identity", "list"]) == 0
        listing = capsys.readouterr().out
        assert new_kid in listing
        assert old_kid not in listing

    def test_retiring_an_unknown_key_says_so(self, store: EncryptedFileSecrets) -> None:
        assert secrets_cli.main(["identity", "rotate"]) == 0
        assert secrets_cli.main(["identity", "retire", "no-such-kid"]) == secrets_cli.EXIT_NOT_FOUND
