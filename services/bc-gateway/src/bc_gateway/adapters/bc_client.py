"""The Business Central API client: the ``BCClient`` port and ``HttpBCClient`` over requests.

``HttpBCClient`` speaks OData v4 as BC implements it (bc-api.md §6): paths are relative to
``<base>/v2.0/<tenant>/<environment>/api/v2.0``; collections are read page by page following the
absolute ``@odata.nextLink`` (only to BC's own origin, so a bearer token never leaves for another
host) with ``Prefer: odata.maxpagesize``; PATCH and DELETE carry ``If-Match`` and, on a stale ETag
(409 ``Request_EntityChanged``), re-read the record and try once more; amounts are parsed and sent
as ``Decimal``.

Every request is paced (``pacing.Pacer``), has a timeout, and is retried with full-jitter backoff
on the retryable errors of ``bc_errors`` (408/429/5xx and network failures), honouring
``Retry-After``, within an attempt count and a time budget. A request that may already have been
carried out is never repeated blindly: a POST is retried only after an answer proving BC did not
process it (429, 503) or a failure before anything was sent, because BC has no idempotency key;
callers look up before they write instead. A 401 drops the cached token and tries once with a
fresh one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Protocol

import requests
import urllib3.exceptions

from bc_gateway.adapters import bc_json
from bc_gateway.adapters.bc_errors import BCAuthError
from bc_gateway.adapters.bc_errors import BCConflict
from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.bc_errors import BCPermanentError
from bc_gateway.adapters.bc_errors import BCRetryableError
from bc_gateway.adapters.bc_errors import error_from_response
from bc_gateway.adapters.odata import query_string
from bc_gateway.adapters.pacing import Backoff
from bc_gateway.adapters.pacing import Pacer
from bc_gateway.adapters.shared_budget import SharedBudget
from bc_gateway.adapters.token import MsalTokenProvider
from mlconnector import metrics

logger = logging.getLogger(__name__)

Entity = dict[str, Any]
# Answers proving BC did not carry the request out, so even a POST may be sent again.
_NOT_PROCESSED = (429, 503)
# Operations one OData $batch may carry (bc-api.md §8).
MAX_BATCH_OPERATIONS = 100


class BCClient(Protocol):
    """What the gateway needs from BC; paths are relative to the API root."""

    @property
    def company_id(self) -> str:
        """The configured company."""
        ...

    def company_path(self, path: str, company_id: str | None = None) -> str:
        """``companies(<id>)/<path>``."""
        ...

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Entity:
        """One entity (or one page of a collection)."""
        ...

    def pages(
        self, path: str, query: Mapping[str, str] | None = None, *, page_size: int | None = None
    ) -> Iterator[list[Entity]]:
        """Every page of a collection, following ``@odata.nextLink``."""
        ...

    def create(self, path: str, body: Mapping[str, Any]) -> Entity:
        """POST a new entity; returns it as BC stored it."""
        ...

    def create_many(self, path: str, bodies: Sequence[Mapping[str, Any]]) -> list[Entity | BCError]:
        """POST several new entities of one collection in one ``$batch`` request (at most
        100): each entity as BC stored it, or the error BC answered for that one."""

    def update(self, path: str, body: Mapping[str, Any], etag: str) -> Entity:
        """PATCH with ``If-Match``; one re-read and retry on a stale ETag."""
        ...

    def delete(self, path: str, etag: str) -> None:
        """DELETE with ``If-Match``."""
        ...

    def action(self, path: str) -> None:
        """POST a bound action (``.../Microsoft.NAV.post``); BC answers 204."""
        ...

    def server_time(self) -> dt.datetime | None:
        """BC's clock: the ``Date`` header of this thread's last response, if any."""
        ...


class HttpBCClient:
    """``BCClient`` over ``requests``: one session per thread and process."""

    def __init__(
        self,
        api_root: str,
        company_id: str,
        tokens: MsalTokenProvider,
        *,
        ca_bundle: str | None = None,
        trust_env: bool = True,
        timeout_s: float = 30.0,
        backoff: Backoff | None = None,
        pacer: Pacer | None = None,
        budget: SharedBudget | None = None,
        batch_counts_operations: bool = True,
        page_size: int = 1000,
    ) -> None:
        self.api_root = api_root.rstrip("/")
        self._company_id = company_id
        self._tokens = tokens
        self._ca_bundle = ca_bundle
        self._trust_env = trust_env
        self._timeout = (min(10.0, timeout_s), timeout_s)
        self._backoff = backoff or Backoff()
        self._pacer = pacer or Pacer(None)
        self._budget = budget
        # How the budget charges a $batch: one place per operation (the cautious reading of
        # bc-api.md §8; MLC_BC_BATCH_COUNTS=operations) or one place for the request (once).
        self._batch_counts_operations = batch_counts_operations
        self._page_size = page_size
        self._origin = _origin(self.api_root)
        self._local = threading.local()
        self._rng = random.Random()  # noqa: S311 - jitter, not cryptography

    @property
    def company_id(self) -> str:
        return self._company_id

    def company_path(self, path: str, company_id: str | None = None) -> str:
        return f"companies({company_id or self._company_id})/{path}"

    # -- operations ------------------------------------------------------------------------

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Entity:
        return self._json(self._request("GET", self._url(path, query), idempotent=True))

    def pages(
        self, path: str, query: Mapping[str, str] | None = None, *, page_size: int | None = None
    ) -> Iterator[list[Entity]]:
        headers = {"Prefer": f"odata.maxpagesize={page_size or self._page_size}"}
        url: str | None = self._url(path, query)
        while url:
            page = self._json(self._request("GET", url, headers=headers, idempotent=True))
            value = page.get("value")
            if not isinstance(value, list):
                raise BCPermanentError(None, "", f"GET {path} returned no value[] collection")
            yield value
            link = page.get("@odata.nextLink")
            url = self._follow(str(link)) if link else None

    def create(self, path: str, body: Mapping[str, Any]) -> Entity:
        response = self._request("POST", self._url(path), body=body, idempotent=False)
        return self._json(response)

    def create_many(self, path: str, bodies: Sequence[Mapping[str, Any]]) -> list[Entity | BCError]:
        """One OData JSON ``$batch`` of creates (bc-api.md §6.3), each standing alone.

        ``Prefer: odata.continue-on-error``: BC otherwise stops at the first failed operation
        and the rest are never tried. The outer request is paced, counted and retried like
        any POST (only when BC proves it did nothing); an answer that names no response for an
        operation leaves that operation in doubt, as a lost answer would.
        """
        if not 1 <= len(bodies) <= MAX_BATCH_OPERATIONS:
            raise ValueError(f"a $batch holds 1 to {MAX_BATCH_OPERATIONS} operations")
        payload = {
            "requests": [
                {
                    "id": str(index),
                    "method": "POST",
                    "url": path,
                    "headers": {"Content-Type": "application/json"},
                    "body": body,
                }
                for index, body in enumerate(bodies)
            ]
        }
        response = self._request(
            "POST",
            self._url("$batch"),
            body=payload,
            headers={"Prefer": "odata.continue-on-error"},
            idempotent=False,
            cost=len(bodies) if self._batch_counts_operations else 1,
        )
        answers = self._json(response).get("responses")
        by_id = {
            str(answer.get("id")): answer
            for answer in (answers if isinstance(answers, list) else [])
            if isinstance(answer, dict)
        }
        results: list[Entity | BCError] = []
        for index in range(len(bodies)):
            answer = by_id.get(str(index))
            if answer is None:
                results.append(
                    BCRetryableError(None, "", f"BC's $batch answer left operation {index} out")
                )
                continue
            status = int(answer.get("status") or 0)
            body = answer.get("body")
            if 200 <= status < 300 and isinstance(body, dict):
                results.append(body)
            else:
                headers = answer.get("headers") or {}
                retry_after = next(
                    (str(v) for k, v in headers.items() if str(k).lower() == "retry-after"), None
                )
                results.append(error_from_response(status, bc_json.dumps(body), retry_after))
        return results

    def update(self, path: str, body: Mapping[str, Any], etag: str) -> Entity:
        try:
            return self._json(self._request("PATCH", self._url(path), body=body, etag=etag))
        except BCConflict:
            fresh = self.get(path)
            logger.info("stale ETag on PATCH %s; retrying once with the current one", path)
            return self._json(
                self._request("PATCH", self._url(path), body=body, etag=_etag_of(fresh))
            )

    def delete(self, path: str, etag: str) -> None:
        try:
            self._request("DELETE", self._url(path), etag=etag)
        except BCConflict:
            fresh = self.get(path)
            self._request("DELETE", self._url(path), etag=_etag_of(fresh))

    def action(self, path: str) -> None:
        self._request("POST", self._url(path), idempotent=False)

    def server_time(self) -> dt.datetime | None:
        value: dt.datetime | None = getattr(self._local, "server_date", None)
        return value

    # -- plumbing --------------------------------------------------------------------------

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        url = f"{self.api_root}/{path.lstrip('/')}"
        return f"{url}?{query_string(query)}" if query else url

    def _follow(self, link: str) -> str:
        """A nextLink is followed only to BC's own origin: the bearer token goes with it."""
        if _origin(link) != self._origin:
            raise BCPermanentError(None, "", "BC returned a nextLink to another host; refused")
        return link

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None or getattr(self._local, "pid", None) != os.getpid():
            session = requests.Session()
            session.trust_env = self._trust_env
            if self._ca_bundle:
                session.verify = self._ca_bundle
            self._local.session, self._local.pid = session, os.getpid()
        return session

    def _json(self, response: requests.Response) -> Entity:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = bc_json.loads(response.content)
        except ValueError as exc:
            raise BCRetryableError(
                response.status_code, "", f"BC answered with invalid JSON: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise BCPermanentError(response.status_code, "", "BC answered with a non-object")
        return data

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        etag: str | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        cost: int = 1,
    ) -> requests.Response:
        started = time.monotonic()
        attempt = 0
        token_refreshed = False
        data = bc_json.dumps(body).encode() if body is not None else None
        while True:
            attempt += 1
            send_headers = {
                "Accept": "application/json",
                "Authorization": f"Bearer {self._tokens.token()}",
                **(headers or {}),
            }
            if data is not None:
                send_headers["Content-Type"] = "application/json"
            if etag is not None:
                send_headers["If-Match"] = etag
            response, failure = self._send(method, url, data, send_headers, cost)
            error: BCError
            if failure is not None:
                if isinstance(failure, requests.exceptions.SSLError):
                    raise BCRetryableError(
                        None, "", f"TLS to BC failed (check MLC_BC_CA_BUNDLE): {failure!r}"
                    ) from None
                error = BCRetryableError(None, "", f"{method} failed: {type(failure).__name__}")
                if not (idempotent or _never_sent(failure)):
                    raise error from None
            else:
                assert response is not None
                if response.status_code < 400:
                    return response
                error = error_from_response(
                    response.status_code, response.text, response.headers.get("Retry-After")
                )
                if response.status_code == 401 and not token_refreshed:
                    token_refreshed = True
                    self._tokens.invalidate()
                    continue
                if error.retry_after_s and response.status_code in _NOT_PROCESSED:
                    self._pacer.hold(error.retry_after_s)
                    if self._budget is not None:
                        self._budget.hold(error.retry_after_s)
                if not _retry_in_loop(error, idempotent):
                    raise error
            delay = self._backoff.delay(attempt, error.retry_after_s, self._rng)
            if not self._backoff.allows(attempt, time.monotonic() - started, delay):
                raise error
            logger.info("BC %s attempt %d: %s; retry in %.2fs", method, attempt, error, delay)
            time.sleep(delay)

    def _send(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, str],
        cost: int = 1,
    ) -> tuple[requests.Response | None, requests.RequestException | None]:
        """One paced HTTP exchange; the pacer slot is held until the answer is back.

        Each exchange is one observation of ``mlc_api_request_duration_seconds{system="bc"}``
        (time on the wire, not time waiting for the pacer).
        """
        if self._budget is not None:
            self._budget.acquire(cost)  # the app's window, shared with every other process
        slot = self._pacer.acquire()
        started = time.monotonic()
        operation = _operation(method, url)
        try:
            response = self._session().request(
                method, url, data=data, headers=headers, timeout=self._timeout
            )
        except requests.RequestException as exc:
            metrics.observe_api_call("bc", operation, None, time.monotonic() - started)
            return None, exc
        finally:
            self._pacer.release(slot)
        metrics.observe_api_call("bc", operation, response.status_code, time.monotonic() - started)
        self._local.server_date = _http_date(response.headers.get("Date"))
        return response, None


def _operation(method: str, url: str) -> str:
    """The operation family a metric is labelled with (never the path: it holds ids)."""
    if method == "POST" and "/Microsoft.NAV." in url:
        return "action"
    return {"GET": "read", "POST": "create", "PATCH": "update", "DELETE": "delete"}.get(
        method, "other"
    )


def _retry_in_loop(error: BCError, idempotent: bool) -> bool:
    if not isinstance(error, BCRetryableError) or isinstance(error, BCConflict | BCAuthError):
        return False
    return idempotent or error.status in _NOT_PROCESSED


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached BC (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None


def _etag_of(entity: Entity) -> str:
    etag = entity.get("@odata.etag")
    if not isinstance(etag, str):
        raise BCPermanentError(None, "", "BC returned an entity without @odata.etag")
    return etag


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port
