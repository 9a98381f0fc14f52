"""Service identity: short-lived signed tokens from the reconciler to the gateways.

Why signed tokens and not a shared password or mutual TLS (``docs/security.md`` has the long
form): a gateway must know *who* calls a command that moves money, and must be able to check it
without holding anything that would let it impersonate that caller. So the caller signs a JWT
with an Ed25519 private key that only it can read from the secret store
(``ml-connector/reconciler`` key ``identity_key``), and the gateways verify it with the public
keys published at ``ml-connector/identity`` (key ``jwks``, a JSON Web Key Set). A token names
its issuer and subject (the caller), its audience (one gateway) and expires within minutes, so a
token captured on the wire is useless at the other gateway and soon useless everywhere. The same
mechanism works on one machine (the encrypted secrets file) and on Kubernetes (Vault), with no
certificate authority to run and nothing special in front of gunicorn.

Rotation without downtime is a three-step, overlap-based change of the key set: publish the new
public key, switch the caller's private key, retire the old public key (``mlc-secrets identity
rotate`` and ``retire``). Verifiers re-read the key set every ``refresh_s`` seconds and at once
(rate-limited) when a token names a key they have not seen, so a new key is accepted as soon as
it is used; a retired key stops being accepted within ``refresh_s``.

Facts used: JWT claims and validation (RFC 7519 §4.1, §7.2), JWK for Ed25519 ``OKP``/``crv``
``Ed25519``/``x`` (RFC 8037 §2) and the ``EdDSA`` algorithm name (RFC 8037 §3.1), key ids as
JWK thumbprints (RFC 7638 §3: SHA-256 over the required members in lexicographic order, no
whitespace). PyJWT 2.15 implements the signing and the registered-claim checks.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALGORITHM = "EdDSA"
IDENTITY_PATH = "ml-connector/identity"
JWKS_KEY = "jwks"
SIGNING_KEY = "identity_key"
DEFAULT_LIFETIME_S = 300
MAX_LIFETIME_S = 600
DEFAULT_LEEWAY_S = 30
_MAX_TOKEN_CHARS = 4096

Clock = Callable[[], float]
TextSource = Callable[[], str | None]


class IdentityError(Exception):
    """Base of the identity errors; the message never contains a key or a token."""


class AuthenticationFailed(IdentityError):
    """The token is missing, malformed, expired, for another audience or not signed by a known
    key. ``error`` is the RFC 6750 code for ``WWW-Authenticate``."""

    def __init__(self, message: str, error: str = "invalid_token") -> None:
        super().__init__(message)
        self.error = error


class IdentityUnavailable(IdentityError):
    """The key set or the signing key cannot be read: an operations problem, not the caller's."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(public_x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK: the key's stable, self-certifying id."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": public_x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(members.encode()).digest())


@dataclasses.dataclass(frozen=True)
class SigningKey:
    """A caller's private key with the subject it speaks for and its key id."""

    subject: str
    private_key: Ed25519PrivateKey = dataclasses.field(repr=False)
    created: int

    @property
    def public_x(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return _b64url(raw)

    @property
    def kid(self) -> str:
        return thumbprint(self.public_x)

    @classmethod
    def generate(cls, subject: str, *, clock: Clock = time.time) -> SigningKey:
        return cls(
            subject=_subject(subject),
            private_key=Ed25519PrivateKey.generate(),
            created=int(clock()),
        )

    def to_json(self) -> str:
        """The private JWK (with ``d``): what the caller stores under ``identity_key``."""
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return json.dumps(
            {**self.public_jwk(), "d": _b64url(raw)}, separators=(",", ":"), sort_keys=True
        )

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK published in the key set; ``sub`` binds the key to its caller."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_x,
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
            "sub": self.subject,
            "iat": self.created,
        }

    @classmethod
    def from_json(cls, text: str) -> SigningKey:
        try:
            data = json.loads(text)
            if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
                raise ValueError("not an Ed25519 key")
            key = Ed25519PrivateKey.from_private_bytes(_b64url_decode(str(data["d"])))
            return cls(
                subject=_subject(str(data["sub"])),
                private_key=key,
                created=int(data.get("iat", 0)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Never echo the text: it is a private key.
            raise IdentityUnavailable(
                f"the {SIGNING_KEY!r} secret is not an Ed25519 private JWK"
            ) from exc


def _subject(value: str) -> str:
    if (
        not value
        or len(value) > 64
        or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)
    ):
        raise ValueError("a caller name is 1 to 64 letters, digits, '-', '_' or '.'")
    return value


# -- key sets ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PublicKey:
    kid: str
    subject: str
    key: Ed25519PublicKey = dataclasses.field(repr=False)
    created: int


def parse_jwks(text: str) -> dict[str, PublicKey]:
    """The usable Ed25519 keys of a JWKS document, by key id.

    Entries of other types are skipped rather than failing the whole set (a set may one day carry
    another algorithm); an entry whose ``kid`` is not its thumbprint is refused, so a key cannot
    be published under another key's id.
    """
    try:
        document = json.loads(text)
        entries = document["keys"]
        if not isinstance(entries, list):
            raise TypeError("keys is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise IdentityUnavailable(f"the {JWKS_KEY!r} key set is not a JWKS document") from exc
    keys: dict[str, PublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP":
            continue
        if entry.get("crv") != "Ed25519" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        x, kid, subject = entry.get("x"), entry.get("kid"), entry.get("sub")
        if not isinstance(x, str) or not isinstance(subject, str) or kid != thumbprint(x):
            raise IdentityUnavailable(f"key set entry {kid!r} is malformed or misnamed")
        try:
            public = Ed25519PublicKey.from_public_bytes(_b64url_decode(x))
        except ValueError as exc:
            raise IdentityUnavailable(f"key set entry {kid!r} is not an Ed25519 key") from exc
        keys[kid] = PublicKey(kid, subject, public, int(entry.get("iat", 0)))
    return keys


def jwks_document(entries: Iterable[Mapping[str, Any]]) -> str:
    """Serialize public JWKs as the key set stored at ``ml-connector/identity``."""
    return json.dumps({"keys": list(entries)}, separators=(",", ":"), sort_keys=True)


# -- issuing -------------------------------------------------------------------------------


class TokenIssuer:
    """Signs a token per audience and reuses it for half its lifetime (thread-safe).

    ``key_source`` returns the private JWK text; it is re-read every ``refresh_s`` seconds so a
    rotated key is picked up without a restart.
    """

    def __init__(
        self,
        key_source: TextSource,
        *,
        lifetime_s: int = DEFAULT_LIFETIME_S,
        refresh_s: float = 60.0,
        clock: Clock = time.time,
    ) -> None:
        if not 10 <= lifetime_s <= MAX_LIFETIME_S:
            raise ValueError(f"token lifetime must be 10 to {MAX_LIFETIME_S} seconds")
        self._source = key_source
        self._lifetime = lifetime_s
        self._refresh = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._key: SigningKey | None = None
        self._key_text: str | None = None
        self._key_read_at = float("-inf")
        self._tokens: dict[str, tuple[str, float]] = {}

    def _signing_key(self, now: float) -> SigningKey:
        if self._key is None or now - self._key_read_at >= self._refresh:
            try:
                text = self._source()
            except Exception as exc:
                if self._key is not None:
                    return self._key  # keep signing with the key we have; retry next time
                raise IdentityUnavailable("the service signing key cannot be read") from exc
            self._key_read_at = now
            if not text:
                raise IdentityUnavailable(
                    f"no {SIGNING_KEY!r} secret: create one with 'mlc-secrets identity rotate'"
                )
            if text != self._key_text:
                self._key, self._key_text = SigningKey.from_json(text), text
                self._tokens.clear()
        assert self._key is not None
        return self._key

    def token(self, audience: str) -> str:
        """A valid token for ``audience`` (a fresh one once half the old one's life is gone)."""
        with self._lock:
            now = self._clock()
            key = self._signing_key(now)
            cached = self._tokens.get(audience)
            if cached is not None and cached[1] - now > self._lifetime / 2:
                return cached[0]
            issued = int(now)
            claims = {
                "iss": key.subject,
                "sub": key.subject,
                "aud": audience,
                "iat": issued,
                "nbf": issued,
                "exp": issued + self._lifetime,
                "jti": secrets.token_urlsafe(12),
            }
            token = jwt.encode(
                claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
            )
            self._tokens[audience] = (token, float(issued + self._lifetime))
            return token

    def authorization(self, audience: str) -> str:
        """The ``Authorization`` header value for a call to ``audience``."""
        return f"Bearer {self.token(audience)}"


# -- verifying -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who made a request, as proven by its token."""

    subject: str
    kid: str
    token_id: str


class TokenVerifier:
    """Checks tokens for one audience against the published key set (thread-safe)."""

    def __init__(
        self,
        jwks_source: TextSource,
        *,
        audience: str,
        leeway_s: int = DEFAULT_LEEWAY_S,
        max_lifetime_s: int = MAX_LIFETIME_S,
        refresh_s: float = 60.0,
        min_refetch_s: float = 5.0,
        clock: Clock = time.time,
    ) -> None:
        self._source = jwks_source
        self._audience = audience
        self._leeway = leeway_s
        self._max_lifetime = max_lifetime_s
        self._refresh = refresh_s
        self._min_refetch = min_refetch_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, PublicKey] | None = None
        self._fetched_at = float("-inf")

    def _fetch(self, now: float) -> dict[str, PublicKey]:
        try:
            text = self._source()
        except Exception as exc:
            if self._keys is not None:
                return self._keys  # a store hiccup must not lock every caller out
            raise IdentityUnavailable("the service key set cannot be read") from exc
        if not text:
            raise IdentityUnavailable(
                f"no key set at {IDENTITY_PATH!r}: create one with 'mlc-secrets identity rotate'"
            )
        self._keys, self._fetched_at = parse_jwks(text), now
        return self._keys

    def _key(self, kid: str) -> PublicKey | None:
        with self._lock:
            now = self._clock()
            keys = self._keys
            if keys is None or now - self._fetched_at >= self._refresh:
                keys = self._fetch(now)
            if kid not in keys and now - self._fetched_at >= self._min_refetch:
                keys = self._fetch(now)  # a key published since the last read
            return keys.get(kid)

    def verify(self, token: str) -> Caller:
        """The caller proven by ``token``, or ``AuthenticationFailed`` saying what is wrong."""
        if len(token) > _MAX_TOKEN_CHARS:
            raise AuthenticationFailed("the service token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("the service token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise AuthenticationFailed(f"the service token must be signed with {ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationFailed("the service token names no key")
        key = self._key(kid)
        if key is None:
            raise AuthenticationFailed("the service token is signed by an unknown key")
        try:
            # The times are checked below against this verifier's clock (the one the tests and
            # the issuer share), so PyJWT checks signature, audience, issuer and presence only.
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=key.subject,
                options={
                    "require": ["exp", "iat", "iss", "sub", "aud", "jti"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed("the service token is for another service") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed("the service token's issuer does not own its key") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationFailed(f"the service token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthenticationFailed("the service token's signature is not valid") from None
        if claims["sub"] != key.subject:
            raise AuthenticationFailed("the service token's subject does not own its key")
        self._check_times(claims)
        return Caller(subject=key.subject, kid=kid, token_id=str(claims["jti"]))

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        """RFC 7519 §4.1.4-4.1.6 with a small leeway for clock skew, and a lifetime cap."""
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf", claims["iat"])
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat, nbf)):
            raise AuthenticationFailed("the service token's times are not integers")
        now = self._clock()
        if now > exp + self._leeway:
            raise AuthenticationFailed("the service token has expired")
        if now < nbf - self._leeway:
            raise AuthenticationFailed("the service token is not valid yet")
        if iat > now + self._leeway:
            raise AuthenticationFailed("the service token was issued in the future")
        if exp - iat > self._max_lifetime:
            raise AuthenticationFailed("the service token lives longer than allowed")


# -- authorization -------------------------------------------------------------------------


ALL = "*"


@dataclasses.dataclass(frozen=True)
class CallerPolicy:
    """Which caller may use which permission: ``reconciler=*;auditor=bc:read``."""

    grants: Mapping[str, frozenset[str]]

    @classmethod
    def parse(cls, text: str) -> CallerPolicy:
        grants: dict[str, frozenset[str]] = {}
        for part in text.split(";"):
            if not part.strip():
                continue
            subject, sep, permissions = part.partition("=")
            if not sep:
                raise ValueError(f"expected caller=permission,... in {part.strip()!r}")
            names = frozenset(p.strip() for p in permissions.split(",") if p.strip())
            if not names:
                raise ValueError(f"caller {subject.strip()!r} is granted nothing")
            grants[_subject(subject.strip())] = names
        if not grants:
            raise ValueError("no caller is allowed anything")
        return cls(grants)

    def allows(self, subject: str, permission: str) -> bool:
        granted = self.grants.get(subject, frozenset())
        return ALL in granted or permission in granted
