"""ID tokens, user access tokens and the signing key that the JWKS endpoint publishes.

ID tokens follow Microsoft's v2.0 format so a client can validate them exactly as it would Entra's
(https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference):

* header ``typ: JWT``, ``alg: RS256``, ``kid`` = the thumbprint of the signing key's certificate
  (Entra's ``kid`` and ``x5t`` carry the same value; ``x5t`` itself is only in v1.0 ID tokens);
* claims ``aud`` (the app's client id), ``iss`` (``https://<host>/<tenant>/v2.0``, the discovery
  document's ``issuer``), ``iat``/``nbf``/``exp``, ``aio`` (opaque), ``name``,
  ``preferred_username`` and ``oid`` (with the ``profile`` scope), ``email`` (``email`` scope),
  ``nonce`` (echoed from the authorize request), ``roles`` (the user's app roles for this app,
  *omitted* when there are none), ``sid`` (the browser session), ``sub`` (pairwise: "unique to an
  application ID"), ``tid``, ``uti``, ``ver: "2.0"``. ``auth_time`` is added when the request
  carried ``max_age`` (MSAL then checks it).

The key is an RSA-2048 key generated when the emulator first signs something (so emulators that
never sign anything do not pay for key generation), with a self-signed certificate because Entra's
JWKS entries carry ``x5t`` and ``x5c`` (https://login.microsoftonline.com/<tenant>/discovery/v2.0/
keys: ``kty``, ``use: sig``, ``kid``, ``x5t``, ``n``, ``e``, ``x5c``, ``issuer``). Tokens are
signed with ``cryptography`` directly (RS256 is RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3);
the tests verify them independently with PyJWT against the published JWKS.

``client_info`` is what MSAL asks for with ``client_info=1``: base64url JSON ``{"uid", "utid"}``
(object id and tenant id); MSAL builds the account's ``home_account_id`` as ``uid.utid`` from it
(msal/token_cache.py ``__parse_account``) and sends ``X-AnchorMailbox: Oid:uid@utid`` when it finds
it in the authorize response (msal/application.py ``_ClientWithCcsRoutingInfo``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bc_emulator.people import DirectoryUser

# Entra's default ID token lifetime is one hour
# (https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes).
ID_TOKEN_LIFETIME_SECONDS = 3600
# Access tokens for the OIDC scopes are Microsoft Graph tokens for the UserInfo endpoint
# (https://learn.microsoft.com/entra/identity-platform/scopes-oidc: "If you request the OpenID
# Connect scopes and a token, you'll get a token to call the UserInfo endpoint").
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def b64url(data: bytes) -> str:
    """Unpadded base64url (JWS, RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with its self-signed certificate and the JWK fields derived from them."""

    private_key: rsa.RSAPrivateKey
    certificate_der: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh RSA-2048 key and a certificate for it, valid for a year of real time."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bc-emulator Entra signing")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert.public_bytes(serialization.Encoding.DER))

    @property
    def kid(self) -> str:
        """The certificate's SHA-1 thumbprint, base64url (Entra's ``kid`` equals its ``x5t``)."""
        return b64url(hashlib.sha1(self.certificate_der, usedforsecurity=False).digest())

    def jwk(self, issuer: str) -> dict[str, Any]:
        """The public key as Entra publishes it in ``discovery/v2.0/keys``."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(_int_bytes(numbers.n)),
            "e": b64url(_int_bytes(numbers.e)),
            "x5c": [base64.b64encode(self.certificate_der).decode("ascii")],
            "issuer": issuer,
        }

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWS of ``claims`` with ``kid`` in the header."""
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{_b64json(header)}.{_b64json(claims)}"
        signature = self.private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{b64url(signature)}"


class Signer:
    """The emulator's signing key, generated on first use (thread-safe)."""

    def __init__(self) -> None:
        self._key: SigningKey | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> SigningKey:
        """The key (generated now if this is the first use)."""
        with self._lock:
            if self._key is None:
                self._key = SigningKey.generate()
            return self._key

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign ``claims`` as an RS256 JWT."""
        return self.key.sign(claims)


def pairwise_subject(tenant: str, client_id: str, object_id: str) -> str:
    """``sub``: stable per user *and* app, different for two apps (43 base64url characters)."""
    seed = f"{tenant.lower()}|{client_id.lower()}|{object_id.lower()}".encode()
    return b64url(hashlib.sha256(seed).digest())


def client_info(object_id: str, tenant: str) -> str:
    """MSAL's ``client_info``: base64url ``{"uid": <oid>, "utid": <tenant id>}``."""
    return _b64json({"uid": object_id, "utid": tenant})


@dataclass(frozen=True)
class SignIn:
    """What a sign-in established, carried from the authorize step to every token it yields."""

    tenant: str
    client_id: str
    object_id: str
    scopes: tuple[str, ...]
    session_id: str
    auth_time: datetime
    nonce: str | None = None
    include_auth_time: bool = False


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def id_token_claims(
    issuer: str, sign_in: SignIn, user: DirectoryUser, now: datetime, *, with_nonce: bool
) -> dict[str, Any]:
    """The claims of a v2.0 ID token for ``user`` signing in to app ``sign_in.client_id``."""
    scopes = set(sign_in.scopes)
    claims: dict[str, Any] = {
        "aud": sign_in.client_id,
        "iss": issuer,
        "iat": _epoch(now),
        "nbf": _epoch(now),
        "exp": _epoch(now + timedelta(seconds=ID_TOKEN_LIFETIME_SECONDS)),
        "aio": b64url(secrets.token_bytes(24)),
    }
    if "profile" in scopes:
        claims["name"] = user.display_name
        claims["oid"] = user.object_id
        claims["preferred_username"] = user.user_principal_name
    if "email" in scopes:
        claims["email"] = user.user_principal_name
    if with_nonce and sign_in.nonce is not None:
        claims["nonce"] = sign_in.nonce
    roles = user.roles_for(sign_in.client_id)
    if roles:
        claims["roles"] = list(roles)
    claims |= {
        "sid": sign_in.session_id,
        "sub": pairwise_subject(sign_in.tenant, sign_in.client_id, user.object_id),
        "tid": sign_in.tenant,
        "uti": b64url(secrets.token_bytes(16)),
        "ver": "2.0",
    }
    if sign_in.include_auth_time:
        claims["auth_time"] = _epoch(sign_in.auth_time)
    return claims


def access_token_claims(
    sign_in: SignIn, user: DirectoryUser, now: datetime, lifetime: int
) -> dict[str, Any]:
    """Claims of the Graph-audience access token that the OIDC scopes yield (v1.0 format)."""
    granted = [s for s in sign_in.scopes if s != "offline_access"]
    return {
        "aud": GRAPH_APP_ID,
        "iss": f"https://sts.windows.net/{sign_in.tenant}/",
        "iat": _epoch(now),
        "nbf": _epoch(now),
        "exp": _epoch(now + timedelta(seconds=lifetime)),
        "appid": sign_in.client_id,
        "idtyp": "user",
        "name": user.display_name,
        "oid": user.object_id,
        "scp": " ".join(granted),
        "sub": pairwise_subject(sign_in.tenant, GRAPH_APP_ID, user.object_id),
        "tid": sign_in.tenant,
        "unique_name": user.user_principal_name,
        "upn": user.user_principal_name,
        "uti": b64url(secrets.token_bytes(16)),
        "ver": "1.0",
    }
