"""A small JSON client for the gateways' command APIs, with errors mapped for the consumer.

The gateways answer with stable error codes (``{"error": {"code", "message"}}``). What a
retry can fix (503, 429, 5xx, timeouts, refused connections) becomes ``GatewayUnavailable``, a
``TransientError``, so the consumer schedules a delayed retry through the bus instead of
sleeping. What no retry can fix becomes ``GatewayRejected`` or ``GatewayNotFound``,
``PermanentError``s that fail the record with the gateway's own code and message. Amounts in
responses are parsed as ``Decimal`` so a float never touches money. Every call is observed in
``mlc_api_request_duration_seconds{system="<gateway>"}`` (``read`` for GET, ``command`` else).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from mlconnector import metrics
from mlconnector.bus import PermanentError
from mlconnector.bus import TransientError
from mlconnector.identity import IdentityError
from mlconnector.logging import get_correlation_id
from mlconnector.redaction import redact


class GatewayUnavailable(TransientError):
    """The gateway (or the API behind it) cannot answer now; try again later.

    ``in_doubt`` is True when the request may still be running in the gateway (the answer
    timed out, or the connection broke after the request went out): a write may yet happen, so
    whoever holds a claim for it keeps the claim until its lease runs out.
    """

    def __init__(self, message: str, *, in_doubt: bool = False) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt


class GatewayRejected(PermanentError):
    """The gateway refused the command for good; ``code`` is its stable error code."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = dict(details or {})


class GatewayNotFound(GatewayRejected):
    """The object does not exist on the other side."""


# Gives the ``Authorization`` header value for a call to the named gateway (its service token).
Authorization = Callable[[str], str]


class JsonGateway:
    """GET/POST JSON against one gateway base URL; one ``requests.Session`` per instance.

    Every call carries the reconciler's service token for that gateway (``authorization``),
    since the gateways refuse commands from anyone else (``mlconnector.service_auth``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        timeout_s: float = 30.0,
        authorization: Authorization | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._name = name
        self._timeout = timeout_s
        self._authorization = authorization
        self._session = requests.Session()

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """GET ``path``; ``timeout_s`` replaces the gateway's timeout for a caller that cannot
        wait as long (a page), so its request ends soon after the caller stops waiting."""
        return self._request("GET", path, params=params, timeout_s=timeout_s)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", path, body=body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._authorization is not None:
            try:
                headers["Authorization"] = self._authorization(self._name)
            except IdentityError as exc:
                # A missing or unreadable signing key is an operations problem a retry may fix
                # once the key is set; the gateway would refuse the call anyway.
                raise GatewayUnavailable(f"no service token for {self._name}: {exc}") from exc
        correlation_id = get_correlation_id()
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, default=_encode)
        operation = "read" if method == "GET" else "command"
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self._base + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self._timeout if timeout_s is None else timeout_s,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            metrics.observe_api_call(self._name, operation, None, time.monotonic() - started)
            raise GatewayUnavailable(
                f"{self._name} unreachable: {type(exc).__name__}", in_doubt=_in_doubt(exc)
            ) from exc
        metrics.observe_api_call(
            self._name, operation, response.status_code, time.monotonic() - started
        )
        return self._decode(method, path, response)

    def _decode(self, method: str, path: str, response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json(parse_float=Decimal)
        except ValueError:
            payload = None
        if 200 <= response.status_code < 300:
            if not isinstance(payload, dict):
                raise GatewayUnavailable(f"{self._name} sent a non-JSON answer to {method} {path}")
            return payload
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        code = str(error.get("code") or f"http_{response.status_code}")
        message = redact(str(error.get("message") or response.reason or "no message"))
        details = error.get("details") if isinstance(error.get("details"), dict) else None
        where = f"{self._name} {method} {path}"
        if response.status_code == 401:
            # Our own token was refused: a key being rotated (the gateway has not re-read the key
            # set yet) or an identity set-up problem. Neither is the record's fault; retry.
            raise GatewayUnavailable(f"{where} refused the service token: {message}")
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            raise GatewayUnavailable(f"{where} answered {response.status_code} {code}: {message}")
        if response.status_code == 404:
            raise GatewayNotFound(code, f"{where}: {message}", details)
        raise GatewayRejected(code, f"{where}: {message}", details)


def _in_doubt(exc: requests.RequestException) -> bool:
    """Whether the request may have reached the gateway (only a failed connect proves not)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return not isinstance(reason, NewConnectionError)
    return True


def _encode(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
