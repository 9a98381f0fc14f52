"""The request pipeline every `/v1` call goes through, in Stripe's order.

before: request id -> request log -> authentication -> rate limits -> `edge` faults -> form
parsing -> `Idempotency-Key` (replay / mismatch / in use) -> `endpoint` faults -> added
latency -> state lock. after: `after` faults -> store the idempotent result (unless the error
happened before execution) -> `Request-Id`, `Stripe-Version`, `Idempotency-Key` headers.
teardown: release the lock. Control-surface calls (`/_emulator/...`) skip everything but the
request id.
"""

from __future__ import annotations

import json
import time

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request

from .auth import authenticate
from .errors import error_response
from .forms import parse_form
from .idempotency import StoredResponse
from .ids import new_request_id
from .limits import rate_limited
from .request_log import RequestEntry
from .state import EmulatorState
from .state import get_state

ADMIN_PREFIX = "/_emulator"
_NOT_REPLAYED = {"Request-Id", "Content-Length", "Date", "Server", "Connection"}


def install(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)


def _route() -> str | None:
    rule = request.url_rule
    if rule is None:
        return None
    return rule.rule.replace("<", "{").replace(">", "}")


def _before() -> Response | None:
    state = get_state()
    g.request_id = new_request_id()
    if not state.base_url:
        state.base_url = request.host_url.rstrip("/")
    g.admin = request.path.startswith(ADMIN_PREFIX)
    if g.admin:
        return None
    method, path = request.method, request.path
    key = request.headers.get("Idempotency-Key") if method == "POST" else None
    g.entry = state.requests.record(
        RequestEntry(method, path, _route(), g.request_id, key, state.clock.now())
    )
    authenticate(state.config, request)
    _check_rate(state, path)
    fault = state.faults.take("edge", method, path)
    if fault is not None:
        raise fault.error()
    pairs = request.form.items(multi=True) if method == "POST" else request.args.items(multi=True)
    g.params = parse_form(pairs)
    if key:
        fingerprint = json.dumps([method, path, g.params], sort_keys=True)
        replay = state.idempotency.begin(
            key, fingerprint, state.clock.now(), state.config.idempotency_ttl
        )
        if replay is not None:
            g.replayed = True
            g.entry.replayed = True
            headers = dict(replay.headers)
            headers.update({"Idempotent-Replayed": "true", "Original-Request": replay.request_id})
            return Response(replay.body, status=replay.status, headers=headers)
        g.idempotency_key = key
    fault = state.faults.take("endpoint", method, path)
    if fault is not None:
        raise fault.error()
    if state.config.latency_ms > 0:
        time.sleep(state.config.latency_ms / 1000)
    state.lock.acquire()
    g.lock_held = True
    return None


def _check_rate(state: EmulatorState, path: str) -> None:
    if path.endswith("/search") and not state.rate_limiter.allow(
        "search", state.config.search_rate_limit
    ):
        raise rate_limited("endpoint-rate")
    if not state.rate_limiter.allow("global", state.config.rate_limit):
        raise rate_limited("global-rate")


def _after(response: Response) -> Response:
    state = get_state()
    response.headers["Request-Id"] = g.request_id
    if g.get("admin"):
        return response
    if not g.get("replayed"):
        if "lock_held" in g:
            fault = state.faults.take("after", request.method, request.path)
            if fault is not None:
                response = current_app.make_response(error_response(fault.error()))
                response.headers["Request-Id"] = g.request_id
        key = g.get("idempotency_key")
        if key:
            if g.get("error_stored", True):
                headers = {k: v for k, v in response.headers.items() if k not in _NOT_REPLAYED}
                stored = StoredResponse(
                    response.status_code, response.get_data(), headers, g.request_id
                )
                state.idempotency.finish(key, stored)
            else:
                state.idempotency.abandon(key)
            response.headers["Idempotency-Key"] = key
    response.headers["Stripe-Version"] = request.headers.get(
        "Stripe-Version", state.config.api_version
    )
    entry = g.get("entry")
    if entry is not None:
        entry.status = response.status_code
    return response


def _teardown(_exc: BaseException | None) -> None:
    if g.get("lock_held"):
        g.lock_held = False
        get_state().lock.release()
    key = g.get("idempotency_key")
    if key:
        # A request that died without a response must not block its key forever.
        get_state().idempotency.abandon(key)
