"""OData JSON ``$batch``: many API operations in one HTTP request (bc-api.md §2.1, §6.3).

``POST .../api/v2.0/$batch`` with ``{"requests": [{"id", "method", "url", "headers", "body"}]}``
answers 200 with ``{"responses": [{"id", "status", "headers", "body"}]}`` in request order; the
outer status says only that the batch was read, each operation has its own. Every operation is
dispatched through this same Flask app as a WSGI request of its own (``Response.from_app``), so
routing, validation, ``If-Match``, error envelopes and webhook notifications are exactly those of
the same request sent alone. The outer request was authenticated, counted and given a concurrency
slot by ``api.py`` (how much it counts: ``batch_request.batch_cost``); its ``Authorization``
header is copied to every operation, and operations (marked by ``INNER_FLAG``) skip the throttle
and the added latency.

Behaviour, from Microsoft's page "Using OData transactional $batch requests" (use-odata-batch.md)
and public reports of BC (Kauffmann, "Batch calls with Business Central (2) – Error handling";
a Dynamics community thread on ``Prefer: odata.continue-on-error``):

- URLs are relative to ``.../api/v2.0/`` (``companies({id})/customers``), absolute paths or
  absolute URLs. A ``Company`` header naming a company (by name, as in Microsoft's example) lets a
  relative URL leave out ``companies({id})/``.
- Processing stops after the first failed operation (status 400 or more); the responses end with
  it. ``Prefer: odata.continue-on-error`` runs the rest as well.
- ``Isolation: snapshot`` makes the batch all-or-nothing: the store's lock is held throughout and
  if any operation fails every change is rolled back (and its notifications dropped), while the
  responses still report what each operation answered. Without it each operation stands alone.
- At most ``max_batch_operations`` (100) operations; more is refused with BC's message.
- ``dependsOn`` (ids of earlier operations) is honoured: an operation whose dependency failed or
  did not run answers 424. ``atomicityGroup``, ``$<id>`` URL references, the multipart format,
  nested batches and ``subscriptions`` inside a snapshot batch (their handshake is an outbound
  call that cannot be undone) are refused with a 400 that says so.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask import current_app
from flask import request
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response as WsgiResponse

from bc_emulator import jsonio
from bc_emulator.batch_request import INNER_FLAG
from bc_emulator.batch_request import Batch
from bc_emulator.batch_request import Operation
from bc_emulator.batch_request import header
from bc_emulator.errors import BCError
from bc_emulator.errors import bad_request
from bc_emulator.errors import bc_error_response
from bc_emulator.http_utils import api_path_parts
from bc_emulator.http_utils import json_response
from bc_emulator.state import Emulator
from bc_emulator.store import Transaction
from bc_emulator.tokens import TokenInfo

_API_ROOT = "/v2.0/"
_OUTER_ONLY_HEADERS = {"content-length", "request-id", "ms-correlation-x"}
_NOT_FORWARDED = {"authorization", "host", "content-length"}


@dataclass(frozen=True)
class _Target:
    """Where an operation goes: absolute path and query, and what its API path addresses."""

    path: str
    query: str
    tenant: str | None = None
    environment: str = ""
    first_segment: str = ""
    company_id: str | None = None


def _with_company_header(emu: Emulator, token: TokenInfo, op: Operation, path: str) -> str:
    """Insert ``companies({id})/`` for a relative URL sent with a ``Company`` header."""
    name = header(op.headers, "Company")
    parts = api_path_parts(path.removeprefix(_API_ROOT))
    if name is None or parts is None or parts[3].split("/")[0].startswith("companies"):
        return path
    tenant, env_name, prefix, odata = parts
    with emu.store.lock:
        env = emu.store.environment(tenant or token.tenant, env_name)
        companies = list(env.companies.values()) if env is not None else []
    found = next((c for c in companies if c.values.get("name") == name), None)
    found = found or next(
        (c for c in companies if str(c.values.get("name", "")).casefold() == name.casefold()),
        None,
    )
    if found is None:
        raise BCError(404, "Internal_CompanyNotFound", f"The company '{name}' does not exist.")
    return f"{_API_ROOT}{prefix}/companies({found.id})/{odata}"


def _target(emu: Emulator, token: TokenInfo, op: Operation, batch_url: str) -> _Target:
    if op.url.startswith("$"):
        raise bad_request(
            f"The emulator does not resolve batch references such as '{op.url.split('/')[0]}'; "
            "use the entity's URL."
        )
    split = urllib.parse.urlsplit(urllib.parse.urljoin(batch_url, op.url))
    if not split.path.startswith(_API_ROOT):
        raise BCError(
            400,
            "BadRequest_InvalidRequestUrl",
            f"The batch request URL '{op.url}' is not an API URL of this service.",
        )
    path = _with_company_header(emu, token, op, split.path)
    parts = api_path_parts(path.removeprefix(_API_ROOT))
    if parts is None:
        return _Target(path, split.query)  # the app answers its usual 404
    tenant, env_name, _, odata = parts
    first = odata.split("/")[0]
    company_id = None
    if first.startswith("companies(") and first.endswith(")"):
        company_id = first.removeprefix("companies(").removesuffix(")").lower()
    return _Target(path, split.query, tenant, env_name, first.split("(")[0], company_id)


def _dispatch(op: Operation, target: _Target) -> WsgiResponse:
    """Run one operation through the whole app as its own WSGI request."""
    headers = {k: v for k, v in op.headers.items() if k.lower() not in _NOT_FORWARDED}
    headers["Authorization"] = request.headers.get("Authorization", "")
    data: bytes | None = None
    if op.has_body and op.body is not None:
        if isinstance(op.body, str):
            data = op.body.encode()
        else:
            data = jsonio.dumps(op.body).encode()
            if header(headers, "Content-Type") is None:
                headers["Content-Type"] = "application/json"
    builder = EnvironBuilder(
        path=target.path,
        query_string=target.query,
        method=op.method,
        base_url=request.host_url,
        headers=list(headers.items()),
        data=data,
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    environ[INNER_FLAG] = True
    environ["REMOTE_ADDR"] = request.remote_addr or "127.0.0.1"
    return WsgiResponse.from_app(current_app.wsgi_app, environ, buffered=True)


def _entry(op: Operation, response: WsgiResponse) -> dict[str, Any]:
    headers = {
        name.lower(): value
        for name, value in response.headers.items()
        if name.lower() not in _OUTER_ONLY_HEADERS
    }
    entry: dict[str, Any] = {"id": op.id, "status": response.status_code, "headers": headers}
    data = response.get_data()
    if data:
        is_json = response.mimetype == "application/json"
        entry["body"] = jsonio.loads(data) if is_json else data.decode("utf-8", "replace")
    return entry


def _failed_dependency(dependency: str) -> Response:
    return bc_error_response(
        BCError(
            424, "Unknown", f"The request depends on request '{dependency}', which did not succeed."
        )
    )


def _run(
    emu: Emulator, token: TokenInfo, op: Operation, transaction: Transaction | None
) -> WsgiResponse:
    try:
        target = _target(emu, token, op, request.base_url)
    except BCError as error:
        return bc_error_response(error)
    if transaction is not None:
        if target.first_segment == "subscriptions":
            return bc_error_response(
                bad_request(
                    "The emulator cannot undo webhook subscription changes; send them outside "
                    "an 'Isolation: snapshot' batch."
                )
            )
        if op.method != "GET" and target.company_id is not None:
            env = emu.store.environment(target.tenant or token.tenant, target.environment)
            if env is not None:  # the lock is held for the whole snapshot batch
                transaction.protect(env, target.company_id)
    return _dispatch(op, target)


@contextlib.contextmanager
def _unit_of_work(emu: Emulator, snapshot: bool) -> Iterator[Transaction | None]:
    if not snapshot:
        yield None
        return
    with emu.store.transaction() as transaction:
        yield transaction


def run_batch(emu: Emulator, token: TokenInfo, batch: Batch) -> Response:
    """Run the operations in order and answer the JSON batch response."""
    responses: list[dict[str, Any]] = []
    statuses: dict[str, int] = {}
    failed = False
    with _unit_of_work(emu, batch.snapshot) as transaction:
        for op in batch.operations:
            broken = next((d for d in op.depends_on if not 200 <= statuses.get(d, 0) < 400), None)
            response: WsgiResponse
            if broken is not None:
                response = _failed_dependency(broken)
            else:
                response = _run(emu, token, op, transaction)
            responses.append(_entry(op, response))
            if op.id is not None:
                statuses[str(op.id)] = response.status_code
            if response.status_code >= 400:
                failed = True
                if not batch.continue_on_error:
                    break
        if failed and transaction is not None:
            transaction.rollback()
    return json_response({"responses": responses})
