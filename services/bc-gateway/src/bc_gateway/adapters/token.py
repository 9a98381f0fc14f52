"""Entra ID access tokens for Business Central, through one long-lived msal application.

One ``ConfidentialClientApplication`` per process, created on first use (msal fetches the
authority's OIDC configuration in its constructor, so nothing touches the network at import or in
bootstrap) and re-created after a fork: gunicorn workers never share the parent's HTTP pool or
token cache. ``acquire_token_for_client`` serves the cached token and asks Entra again once fewer
than five minutes are left, which is the "refresh before expiry"; ``invalidate`` drops the cached
token when BC rejected it anyway (clock skew, revoked consent).

msal reports most failures by *returning* ``{"error": ..., "error_description": "AADSTS...: ..."}``
rather than raising, and a bad authority as a bare ``ValueError`` from the constructor. Both become
a ``TokenError`` whose message names the AADSTS code and the likely cause, never the secret. Token
values are registered for redaction the moment they arrive.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import msal
import requests

from mlconnector.redaction import redact
from mlconnector.redaction import register_secret

logger = logging.getLogger(__name__)

DEFAULT_SCOPE = "https://api.businesscentral.dynamics.com/.default"
_AADSTS = re.compile(r"AADSTS(\d+)")

# AADSTS codes that mean "fix the configuration", with the hint an operator needs.
_HINTS = {
    90002: "the tenant was not found: check MLC_BC_TENANT_ID",
    900023: "the tenant id is malformed: check MLC_BC_TENANT_ID",
    7000215: "the client secret was rejected: check client_secret (the secret's value, not its id)",
    7000222: "the client secret has expired: create a new one and store it as client_secret",
    700016: "the app (client_id) is not registered or not consented in this tenant",
    7000216: "no client secret was sent: set client_secret",
    70011: "the scope is invalid for this app",
    500011: "Business Central is not available to this tenant (service principal missing)",
}
# OAuth errors that a later attempt can clear.
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error"}


class TokenError(RuntimeError):
    """No token: ``retryable`` says whether trying later can help; ``aadsts`` is Entra's code."""

    def __init__(self, message: str, *, retryable: bool, aadsts: int | None = None) -> None:
        super().__init__(redact(message))
        self.retryable = retryable
        self.aadsts = aadsts


class MsalTokenProvider:
    """Client-credentials tokens for one app registration, cached by msal."""

    def __init__(
        self,
        authority: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str = DEFAULT_SCOPE,
        instance_discovery: bool = True,
        ca_bundle: str | Path | None = None,
        trust_env: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._authority = authority.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        register_secret(client_secret)
        self._scope = scope
        self._instance_discovery = instance_discovery
        self._ca_bundle = str(ca_bundle) if ca_bundle else None
        self._trust_env = trust_env
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._pid = -1
        self._app: Any = None
        self._session: requests.Session | None = None
        self.last_source: str | None = None

    @property
    def client_id(self) -> str:
        return self._client_id

    def token(self) -> str:
        """A valid access token (from the cache when it has more than five minutes left)."""
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._scope])
        except requests.RequestException as exc:
            raise TokenError(
                f"cannot reach the token endpoint at {self._authority}: {type(exc).__name__}",
                retryable=True,
            ) from None
        except Exception as exc:  # msal raises its own errors for 5xx answers
            raise TokenError(
                f"the token endpoint failed: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        if not isinstance(result, dict) or "access_token" not in result:
            raise _result_error(result if isinstance(result, dict) else {})
        token = str(result["access_token"])
        register_secret(token)
        self.last_source = str(result.get("token_source", "")) or None
        if self.last_source != "cache":
            logger.info("acquired a BC access token (expires in %s s)", result.get("expires_in"))
        return token

    def invalidate(self) -> None:
        """Forget cached tokens, so the next ``token()`` asks Entra again."""
        with self._lock:
            app = self._app if self._pid == os.getpid() else None
        if app is not None:
            app.remove_tokens_for_client()

    def _application(self) -> Any:
        with self._lock:
            if self._app is not None and self._pid == os.getpid():
                return self._app
            session = requests.Session()
            session.trust_env = self._trust_env
            if self._ca_bundle:
                session.verify = self._ca_bundle
            try:
                app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._client_secret,
                    authority=self._authority,
                    instance_discovery=self._instance_discovery,
                    http_client=session,
                    timeout=self._timeout_s,
                )
            except requests.RequestException as exc:
                session.close()
                raise TokenError(
                    f"cannot reach the authority {self._authority}: {type(exc).__name__}",
                    retryable=True,
                ) from None
            except ValueError:
                # msal says only "Unable to get authority configuration"; ask the discovery
                # endpoint ourselves for Entra's reason (an unknown tenant is the usual one).
                error = self._explain_discovery_failure(session)
                session.close()
                raise error from None
            self._app, self._session, self._pid = app, session, os.getpid()
            return app

    def _explain_discovery_failure(self, session: requests.Session) -> TokenError:
        url = f"{self._authority}/v2.0/.well-known/openid-configuration"
        try:
            response = session.get(url, timeout=self._timeout_s)
        except requests.RequestException as exc:
            return TokenError(
                f"cannot reach the authority {self._authority}: {type(exc).__name__}",
                retryable=True,
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500:
            return TokenError(
                f"the authority {self._authority} answered {response.status_code}",
                retryable=True,
            )
        if isinstance(body, dict) and body.get("error"):
            return _result_error(body)
        return TokenError(
            f"{self._authority} is not a valid authority (HTTP {response.status_code}): check "
            "MLC_BC_AUTHORITY_HOST and MLC_BC_TENANT_ID",
            retryable=False,
        )


def _result_error(result: dict[str, Any]) -> TokenError:
    """The TokenError for an msal error dict: AADSTS code, first sentence, and a hint."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "")
    match = _AADSTS.search(description)
    code = int(match.group(1)) if match else None
    # Entra appends trace and correlation ids and a timestamp; the first sentence is the reason.
    reason = description.split(". ")[0].split(" Trace ID:")[0].strip().rstrip(".")
    hint = _HINTS.get(code) if code is not None else None
    message = f"Entra refused the token request: {error}"
    if reason:
        message += f" ({reason})"
    if hint:
        message += f"; {hint}"
    retryable = error in _TRANSIENT_ERRORS and hint is None
    return TokenError(message, retryable=retryable, aadsts=code)
