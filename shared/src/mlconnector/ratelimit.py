"""Rate limits for the public webhooks and the reconciler API, built on Flask-Limiter.

What is counted decides who can be throttled. A webhook budget counts only *refused* answers
(4xx other than the limiter's own 429) per client address: Stripe and BC sign or carry a
clientState on every genuine delivery, so a backlog of thousands arriving at full speed is never
refused, never spends budget and is never answered 429, while a forger spends its budget on its
first refusals and is then answered 429 before its body is read or verified. The reconciler API
has a tight budget of failed authentications (401/403) per client address -- the answer to a
flood of wrong tokens -- and a generous overall budget per client address for runaway scripts.

429 is the only status the limiter adds. BC retries 408, 429 and 5xx and deletes a subscription
on any other status (bc-api.md §7.6); Stripe retries any non-2xx. The 429 carries the services'
JSON error shape (``rate_limited``) and a ``Retry-After``.

The client address is ``REMOTE_ADDR`` unless ``MLC_TRUSTED_PROXIES`` says how many reverse
proxies append to ``X-Forwarded-For``; then it is that many hops from the right, as werkzeug's
``ProxyFix(x_for=N)`` reads it. With 0 the header is ignored, so spoofing it evades nothing.
IPv6 clients are grouped by /64, the block one subscriber usually holds.

Counters live where ``MLC_RATELIMIT_STORAGE`` says: ``memory://`` (one process) or Redis, so
every worker and replica shares one budget. If the store cannot be reached the limiter fails
open onto per-process memory counters (Flask-Limiter's in-memory fallback, which logs a WARNING
and checks the store again with back-off) and never turns a request into a 5xx: a rate-limit
outage must not take the webhooks down.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flask import Flask
from flask import Response
from flask import g
from flask import request
from flask.typing import ResponseReturnValue
from flask_limiter import ApplicationLimit
from flask_limiter import Limiter
from flask_limiter import RateLimitExceeded
from flask_limiter import RequestLimit
from limits import parse_many

from mlconnector.config import EnvReader
from mlconnector.redaction import register_secrets
from mlconnector.web import RUNS_FIRST
from mlconnector.web import error_response
from mlconnector.web import note_refusal

if TYPE_CHECKING:
    # Types only, so that ``mlconnector.runtime`` can embed ``RateLimitSettings`` in its
    # ``CommonSettings`` without an import cycle.
    from mlconnector.runtime import CommonSettings

logger = logging.getLogger(__name__)

# Sizing rationale: docs/security.md ("Rate limits").
DEFAULT_WEBHOOK_REFUSALS = "30/minute;300/hour"
DEFAULT_AUTH_FAILURES = "10/minute;50/hour"
DEFAULT_API_REQUESTS = "1200/minute"
DEFAULT_KEY_PREFIX = "mlc"
OPEN_PATHS = ("/healthz", "/readyz")

# A Redis that does not answer must cost a request at most this long before the fallback takes
# over (redis-py waits for the OS's TCP timeout otherwise). Query parameters in the URI win.
_REDIS_TIMEOUTS: dict[str, str | int] = {"socket_connect_timeout": 1, "socket_timeout": 1}
_REFUSED_MIN, _REFUSED_MAX = 400, 499
_AUTH_FAILURES = frozenset({401, 403})


def _limit_string(raw: str) -> str:
    """A Flask-Limiter limit string (``30/minute;300/hour``); an error names what is wrong."""
    items = parse_many(raw)  # ValueError for anything it cannot read
    if any(item.amount < 1 for item in items):
        raise ValueError("every limit needs an amount of at least 1")
    return raw.strip()


def _key_prefix(raw: str) -> str:
    if not raw.replace("-", "").replace("_", "").isalnum():
        raise ValueError("use letters, digits, '-' and '_' only")
    return raw


@dataclasses.dataclass(frozen=True)
class RateLimitSettings:
    """The budgets, from ``MLC_RATELIMIT_*``; the store and proxy hops are in ``CommonSettings``."""

    webhook_refusals: str = DEFAULT_WEBHOOK_REFUSALS
    auth_failures: str = DEFAULT_AUTH_FAILURES
    api_requests: str = DEFAULT_API_REQUESTS
    # Namespaces the counters in a store shared by several environments or test runs.
    key_prefix: str = DEFAULT_KEY_PREFIX

    @classmethod
    def from_reader(cls, env: EnvReader) -> RateLimitSettings:
        return cls(
            webhook_refusals=env(
                "RATELIMIT_WEBHOOK_REFUSALS", _limit_string, DEFAULT_WEBHOOK_REFUSALS
            ),
            auth_failures=env("RATELIMIT_AUTH_FAILURES", _limit_string, DEFAULT_AUTH_FAILURES),
            api_requests=env("RATELIMIT_API", _limit_string, DEFAULT_API_REQUESTS),
            key_prefix=env("RATELIMIT_KEY_PREFIX", _key_prefix, DEFAULT_KEY_PREFIX),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RateLimitSettings:
        env = EnvReader(environ)
        settings = cls.from_reader(env)
        env.finish()
        return settings


def _bucket(address: str) -> str:
    """The key for one address: IPv4 as is, IPv6 by /64, anything unparsable as its text."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        # Some proxies append the port ("203.0.113.7:4711", "[2001:db8::1]:4711").
        host = text.rsplit(":", 1)[0].strip("[]") if ":" in text else text
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            # Never empty: Flask-Limiter skips a limit whose key is empty.
            return text[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(remote_addr: str | None, forwarded_for: Sequence[str], trusted: int) -> str:
    """The client a request is counted against.

    ``trusted`` proxies each append the address they received from to ``X-Forwarded-For``, so
    the client is the ``trusted``-th entry from the right; everything left of it was written by
    the client and proves nothing. With fewer entries than that (a request that bypassed the
    proxies) or ``trusted == 0``, the socket's peer is the client, as with ``ProxyFix``.
    """
    address = remote_addr or ""
    if trusted > 0:
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
        if len(hops) >= trusted:
            address = hops[-trusted]
    return _bucket(address)


def _client_key(trusted: int) -> Callable[[], str]:
    def key() -> str:
        return client_address(
            request.remote_addr, request.headers.getlist("X-Forwarded-For"), trusted
        )

    return key


def _request_identity() -> str:
    """Flask-Limiter skips requests without an endpoint; unknown URLs and methods count too."""
    return request.endpoint or "unrouted"


class _BreachLog:
    """One WARNING per client, limit and window rather than one per 429: a flood of forged
    requests must not turn into a flood of log lines (Flask-Limiter logs each at INFO)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_in_window(self, key: str, window_s: int) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < window_s:
                return False
            if len(self._last) >= 4096:
                self._last = {k: t for k, t in self._last.items() if now - t < 3600}
            self._last[key] = now
            return True


@dataclasses.dataclass(frozen=True)
class Rule:
    """One budget: its name (the counter's scope), limit string and what it counts."""

    name: str
    limits: str
    what: str
    exempt_when: Callable[[], bool]
    deduct_when: Callable[[Response], bool] | None = None


def _on_breach(
    rule: Rule, log: _BreachLog, client: Callable[[], str]
) -> Callable[[RequestLimit], Response]:
    """The 429 for one limit: the JSON error shape with a ``Retry-After`` in seconds."""

    def respond(breached: RequestLimit) -> Response:
        # The window ends at reset_time; Redis reports whole seconds, so round up by one.
        retry_after = max(1, int(breached.window.reset_time - time.time()) + 1)
        # Each 429 is logged once at WARNING by ``mlconnector.web`` with this reason; the first
        # of a window also gets an INFO line saying how long the address is held off.
        note_refusal(f"rate limit {rule.name} ({breached.limit}) exceeded by {client()}")
        if log.first_in_window(breached.key, breached.limit.get_expiry()):
            logger.info(
                "rate limit %s (%s) exceeded by %s on %s %s; answering 429 for %d s",
                rule.name,
                breached.limit,
                client(),
                request.method,
                request.path,
                retry_after,
            )
        response, status = error_response(
            429,
            "rate_limited",
            f"too many {rule.what} from this address; retry after {retry_after} s",
        )
        response.status_code = status
        response.headers["Retry-After"] = str(retry_after)
        return response

    return respond


def _too_many_requests(exc: RateLimitExceeded) -> ResponseReturnValue:
    """Serve the 429 built by ``_on_breach``; if building it failed (the store vanished
    mid-request), still answer in the JSON shape, with the whole window as the wait."""
    if exc.response is not None:
        return exc.response
    response, status = error_response(429, "rate_limited", "too many requests; retry later")
    response.headers["Retry-After"] = str(exc.limit.limit.get_expiry())
    return response, status


def _install(
    app: Flask, common: CommonSettings, limits: RateLimitSettings, *rules: Rule
) -> Limiter:
    storage = common.ratelimit_storage_uri
    password = urllib.parse.urlsplit(storage).password
    if password:
        register_secrets([password])
    shared = not storage.startswith("memory://")
    log = _BreachLog()
    client = _client_key(common.trusted_proxies)
    limiter = Limiter(
        client,
        application_limits=[
            ApplicationLimit(
                limit_provider=rule.limits,
                scope=rule.name,
                exempt_when=rule.exempt_when,
                deduct_when=rule.deduct_when,
                on_breach=_on_breach(rule, log, client),
            )
            for rule in rules
        ],
        storage_uri=storage,
        storage_options=dict(_REDIS_TIMEOUTS) if shared else {},
        strategy="fixed-window",
        key_prefix=f"{limits.key_prefix}:{app.name}",
        headers_enabled=False,  # no X-RateLimit-* on every answer: only the 429 says more
        swallow_errors=True,  # a store error is logged, never a 5xx
        in_memory_fallback_enabled=shared,  # store down: count in this process instead
        request_identifier=_request_identity,
    )
    before = list(app.before_request_funcs.get(None, []))
    limiter.init_app(app)
    # Flask stops at the first before_request hook that answers. Guards answer there (the
    # reconciler's bearer check does), so the limiter's check must run first: otherwise a
    # refused request never registers the deduction that Flask-Limiter makes after the answer,
    # and a flood of wrong tokens is answered 401 forever. Running first also answers a blocked
    # client before a streamed body is read.
    # Only the correlation id is bound before it, so that a 429 is logged and answered with one.
    hooks = app.before_request_funcs.setdefault(None, [])
    added = [hook for hook in hooks if hook not in before]
    first = [hook for hook in hooks if getattr(hook, RUNS_FIRST, False)]
    hooks[:] = first + added + [hook for hook in hooks if hook not in added and hook not in first]
    app.register_error_handler(RateLimitExceeded, _too_many_requests)
    logger.info(
        "rate limits on %s (%s store): %s",
        app.name,
        "shared" if shared else "per-process",
        "; ".join(f"{rule.name} {rule.limits}" for rule in rules),
    )
    return limiter


def _refused(response: Response) -> bool:
    return _REFUSED_MIN <= response.status_code <= _REFUSED_MAX and response.status_code != 429


def vouch_for_request(who: str) -> None:
    """An app's own guard says this request's sender is authenticated (``who``: for whom).

    A 403 after that is a refusal for want of a permission, not a failed authentication: a
    signed-in person refused a page their role does not allow proved who they are, and office
    colleagues behind one address must not lock each other out that way.
    """
    g.mlc_vouched_for = who


def _auth_failed(response: Response) -> bool:
    if response.status_code == 403 and g.get("mlc_vouched_for"):
        return False
    return response.status_code in _AUTH_FAILURES


def install_webhook_limits(
    app: Flask, common: CommonSettings, *paths: str, limits: RateLimitSettings | None = None
) -> Limiter:
    """Limit refused requests to the webhook ``paths`` per client address (see module doc)."""
    watched = frozenset(path.rstrip("/") for path in paths)
    budgets = limits or common.ratelimits
    return _install(
        app,
        common,
        budgets,
        Rule(
            name="webhook-refusals",
            limits=budgets.webhook_refusals,
            what="refused requests",
            exempt_when=lambda: request.path.rstrip("/") not in watched,
            deduct_when=_refused,
        ),
    )


def install_api_limits(
    app: Flask,
    common: CommonSettings,
    *,
    open_paths: Collection[str] = OPEN_PATHS,
    limits: RateLimitSettings | None = None,
) -> Limiter:
    """Limit failed authentications and all requests per client address, except the probes."""
    exempt = frozenset(open_paths)
    budgets = limits or common.ratelimits

    def probe() -> bool:
        return request.path in exempt

    return _install(
        app,
        common,
        budgets,
        Rule(
            name="auth-failures",
            limits=budgets.auth_failures,
            what="failed authentications",
            exempt_when=probe,
            deduct_when=_auth_failed,
        ),
        Rule(name="api", limits=budgets.api_requests, what="requests", exempt_when=probe),
    )
