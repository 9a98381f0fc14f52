"""Access tokens issued by the emulated Entra endpoint.

Tokens look like JWTs (header, claims with ``aud``/``tid``/``appid``/``exp``, random tail) so a
client that peeks at ``exp`` sees a plausible value, but they are only valid if this emulator
issued them and the emulated clock has not passed their expiry.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

AUDIENCE = "https://api.businesscentral.dynamics.com"


@dataclass(frozen=True)
class TokenInfo:
    """What the API needs to know about a presented token."""

    tenant: str
    client_id: str
    user_id: str
    expires_at: datetime


class TokenStore:
    """Issued tokens (in memory)."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenInfo] = {}
        self._lock = threading.Lock()

    def issue(self, tenant: str, client_id: str, now: datetime, lifetime: int) -> str:
        """Create a token valid for ``lifetime`` seconds of emulated time."""
        info = TokenInfo(
            tenant, client_id, user_id_for(client_id), now + timedelta(seconds=lifetime)
        )
        claims = {
            "aud": AUDIENCE,
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(info.expires_at.timestamp()),
            "appid": client_id,
            "tid": tenant,
            "oid": info.user_id,
            "roles": ["API.ReadWrite.All"],
        }
        header = _b64({"typ": "JWT", "alg": "none"})
        token = f"{header}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
        with self._lock:
            self._tokens[token] = info
        return token

    def lookup(self, token: str) -> TokenInfo | None:
        """The token's info, if this emulator issued it."""
        with self._lock:
            return self._tokens.get(token)

    def clear(self) -> None:
        """Forget all tokens."""
        with self._lock:
            self._tokens.clear()


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def user_id_for(client_id: str) -> str:
    """Stable user GUID of an app registration (BC records the app as a user)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bc-emulator-app:{client_id.lower()}"))
