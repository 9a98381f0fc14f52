"""What interactive sign-in remembers: codes, browser sessions, refresh and access tokens.

Everything is in memory and cleared by ``POST /_emulator/reset``; times come from the emulated
clock so tests expire codes by advancing it. The lifetimes are Microsoft's:

* authorization codes "are short lived. Typically, they expire after about 10 minutes", are single
  use (a second redemption is ``AADSTS54005``) and must be redeemed with "the same
  ``redirect_uri`` value that was used to acquire" them --
  https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
* refresh tokens are long-lived; "Refresh tokens aren't revoked when used to acquire new access
  tokens" (same page); an unused one lapses after 90 days (``AADSTS700082`` "The refresh token
  has expired due to inactivity ... inactive for 90.00:00:00") --
  https://learn.microsoft.com/entra/identity-platform/reference-error-codes
* the browser session (Entra's ``ESTSAUTH`` cookie) ends at sign-out or after 24 hours unused:
  "Non-persistent session tokens have a Max Inactive Time of 24 hours ... Anytime the SSO session
  token is used within its validity period, the validity period is extended another 24 hours"
  (https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes, which also
  gives ID tokens "One hour" and refresh tokens a "Max Inactive Time" of "90 days");
  ``prompt=login`` forces credentials anyway.

The sign-in form carries a single-use ``flowToken`` (Entra's form has one too) so a credential
POST needs a page this emulator rendered: no login CSRF, no replayed form posts.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from bc_emulator.id_tokens import SignIn

AUTH_CODE_LIFETIME = timedelta(minutes=10)
REFRESH_TOKEN_INACTIVITY = timedelta(days=90)
SESSION_INACTIVITY = timedelta(hours=24)
FLOW_TOKEN_LIFETIME = timedelta(minutes=30)


@dataclass
class IssuedCode:
    """An authorization code and everything it is bound to."""

    sign_in: SignIn
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: datetime
    redeemed: bool = False
    refresh_token: str | None = None

    def expired(self, now: datetime) -> bool:
        """Past its ten minutes."""
        return now >= self.issued_at + AUTH_CODE_LIFETIME


@dataclass
class BrowserSession:
    """A signed-in browser: who, since when, the public session id (``sid``), last use."""

    tenant: str
    object_id: str
    session_id: str
    auth_time: datetime
    last_used: datetime


@dataclass
class RefreshGrant:
    """A refresh token's binding; ``last_used`` drives the inactivity expiry."""

    sign_in: SignIn
    last_used: datetime
    revoked: bool = False

    def expired(self, now: datetime) -> bool:
        """Unused for longer than Entra's 90 days."""
        return now >= self.last_used + REFRESH_TOKEN_INACTIVITY


@dataclass(frozen=True)
class UserAccessToken:
    """A user access token for the UserInfo endpoint."""

    sign_in: SignIn
    expires_at: datetime


class SigninStore:
    """Codes, sessions, refresh tokens, access tokens and form flow tokens (thread-safe).

    Callers that must check-then-change atomically (code redemption) hold :attr:`lock`.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.codes: dict[str, IssuedCode] = {}
        self.sessions: dict[str, BrowserSession] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.access_tokens: dict[str, UserAccessToken] = {}
        self._flow_tokens: dict[str, datetime] = {}

    def issue_code(
        self,
        sign_in: SignIn,
        redirect_uri: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        now: datetime,
    ) -> str:
        """A new single-use authorization code."""
        code = secrets.token_urlsafe(48)
        with self.lock:
            self.codes[code] = IssuedCode(
                sign_in, redirect_uri, code_challenge, code_challenge_method, now
            )
        return code

    def start_session(self, tenant: str, object_id: str, now: datetime) -> tuple[str, str]:
        """A browser session; returns (cookie secret, public session id)."""
        secret = secrets.token_urlsafe(32)
        session_id = str(uuid.uuid4())
        with self.lock:
            self.sessions[secret] = BrowserSession(tenant, object_id, session_id, now, now)
        return secret, session_id

    def session(self, secret: str | None, now: datetime) -> BrowserSession | None:
        """The browser session behind a cookie value if still signed in; using it extends it."""
        if not secret:
            return None
        with self.lock:
            found = self.sessions.get(secret)
            if found is None:
                return None
            if now >= found.last_used + SESSION_INACTIVITY:
                del self.sessions[secret]
                return None
            found.last_used = now
            return found

    def end_session(self, secret: str | None) -> bool:
        """Sign a browser out; True if it was signed in."""
        if not secret:
            return False
        with self.lock:
            return self.sessions.pop(secret, None) is not None

    def issue_refresh_token(self, sign_in: SignIn, now: datetime) -> str:
        """A new refresh token for ``sign_in``."""
        token = secrets.token_urlsafe(64)
        with self.lock:
            self.refresh_tokens[token] = RefreshGrant(sign_in, now)
        return token

    def remember_access_token(self, token: str, sign_in: SignIn, expires_at: datetime) -> None:
        """Record a user access token so UserInfo can accept it."""
        with self.lock:
            self.access_tokens[token] = UserAccessToken(sign_in, expires_at)

    def access_token(self, token: str) -> UserAccessToken | None:
        """A user access token's record, if this emulator issued it."""
        with self.lock:
            return self.access_tokens.get(token)

    def new_flow_token(self, now: datetime) -> str:
        """A token for one rendering of the sign-in form."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self._flow_tokens = {
                t: at for t, at in self._flow_tokens.items() if now < at + FLOW_TOKEN_LIFETIME
            }
            self._flow_tokens[token] = now
        return token

    def use_flow_token(self, token: str, now: datetime) -> bool:
        """Consume a form's flow token; False if unknown, used or stale."""
        with self.lock:
            issued = self._flow_tokens.pop(token, None)
        return issued is not None and now < issued + FLOW_TOKEN_LIFETIME

    def clear(self) -> None:
        """Forget everything (emulator reset)."""
        with self.lock:
            self.codes.clear()
            self.sessions.clear()
            self.refresh_tokens.clear()
            self.access_tokens.clear()
            self._flow_tokens.clear()
