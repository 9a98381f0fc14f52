"""Arbitrary requests to every route of the three apps, with and without credentials: never a 500.

The Flask test-client variant of the parser fuzzing (reliability.md §5.4, §7 case 27): Hypothesis
picks a route and method of an app (or a path no route has), fills its path parameters, query
string, headers and body with hostile values -- arbitrary bytes, JSON nested far too deep, numbers
such as ``1E+400`` and ``NaN``, lone surrogates, NUL, oversized headers, wrong content types --
and sends it with no credentials, a forged token, or a valid one.

The apps are built as ``wsgi.py`` builds them, from ``MLC_*`` settings, but with nothing to talk
to: no BC connection, a Stripe address and a broker address where nothing listens, an empty
migrated SQLite database. Whatever passes validation therefore ends at a dependency that is down,
which each app must answer with its documented 503 (``Retry-After`` and a stable code), so the
oracle is strict: an answer below 500, or a 503 in the JSON error shape (the readiness probe's
``not_ready`` included). A 500 means an exception nobody expected escaped to the edge.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import time
import urllib.parse
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import service_token
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from mlconnector import jsonbody
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.migrate import upgrade

MASTER_KEY = "test-master-key-http-fuzz"
REPLAY_TOKEN = SERVICE_SECRETS["ml-connector/reconciler"]["replay_token"]
CLIENT_STATE = SERVICE_SECRETS["ml-connector/bc"]["client_state"]
WEBHOOK_SECRET = SERVICE_SECRETS["ml-connector/stripe"]["webhook_secret"]
NOWHERE = "127.0.0.1:9"  # the discard port: nothing listens there

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- hostile parts of a request ------------------------------------------------------------------

NASTY = "\x00\x01\x1f\x7f\u2028\ud800\udfff\ufeff\u0661=,;:\"'\\/[]{}()$?&%#+ \t"
text = st.text(st.one_of(st.sampled_from(NASTY), st.characters()), max_size=30)


def nested(depth: int) -> bytes:
    return b'{"value":[' * (depth // 2) + b"0" + b"]}" * (depth // 2)


SPECIAL_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{}",
    nested(100_000),
    nested(1_000),
    nested(64),
    b"[" * 50_000,
    b"1E+400",
    b'{"amount": 1E+400, "value": [1E+999999999]}',
    b'{"amount": NaN, "limit": -Infinity, "value": [NaN]}',
    b'{"amount": 1' + b"0" * 5000 + b"}",
    b'{"actor": "\\u0000", "reason": "\\ud800\\udc00\\ud800"}',
    b'{"value": [{"clientState": "' + CLIENT_STATE.encode() + b'", "resource": "\\ud800"}]}',
    b'{"value": [{"clientState": "' + CLIENT_STATE.encode() + b'", "resource": "https://[x",'
    b' "subscriptionId": "s", "changeType": "updated",'
    b' "lastModifiedDateTime": "2026-01-01T00:00:00Z"}]}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe\x00{",
    b"\x00" * 64,
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=15,
)
bodies = st.one_of(
    st.sampled_from(SPECIAL_BODIES),
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),  # NaN/Infinity and \\udXXX included
)
content_types = st.sampled_from(
    [None, "application/json", "text/plain", "application/json; charset=latin-1", "x/\x7f"]
)


@st.composite
def requests(draw: st.DrawFn, app: Flask, credentials: list[dict[str, str]]) -> dict[str, Any]:
    """One request: a route of ``app`` (or none), with hostile parameters, headers and body."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    rule = draw(st.sampled_from(rules) | st.none())
    if rule is None:
        path = "/" + urllib.parse.quote(draw(text), safe="/", errors="surrogatepass")
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    else:
        values = {
            name: urllib.parse.quote(
                draw(text | st.integers().map(str)), safe="", errors="surrogatepass"
            )
            for name in rule.arguments
        }
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<{name}>", value).replace(f"<int:{name}>", value)
            path = path.replace(f"<string:{name}>", value)
        method = draw(st.sampled_from(sorted(rule.methods or {"GET"})))
    query = draw(st.lists(st.tuples(text, text | st.integers().map(str)), max_size=4))
    headers = dict(draw(st.sampled_from(credentials)))
    if draw(st.booleans()):
        headers["Stripe-Signature"] = draw(
            text | st.just("t=1,v1=" + "0" * 64) | st.just("t=" + "9" * 5000)
        )
    if draw(st.booleans()):
        headers["X-Correlation-Id"] = draw(text)
    content_type = draw(content_types)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return {
        "method": method,
        "path": path,
        "query_string": urllib.parse.urlencode(
            [
                (k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                for k, v in query
            ]
        ),
        "headers": {name: on_the_wire(value) for name, value in headers.items()},
        "data": draw(bodies),
    }


def on_the_wire(value: str) -> str:
    """A header value as a server hands it over: bytes read as latin-1, no line breaks (HTTP
    framing ends a header there; the server and werkzeug refuse one inside a value)."""
    raw = value.encode("utf-8", "surrogatepass").replace(b"\r", b" ").replace(b"\n", b" ")
    return raw.decode("latin-1")


def check_answer(app: Flask, request: dict[str, Any]) -> None:
    response = app.test_client().open(**request)
    status = response.status_code
    assert status < 500 or status == 503, (
        status,
        request["method"],
        request["path"],
        response.data[:300],
    )
    if status == 503 and request["method"] != "HEAD":
        body = response.get_json(silent=True)
        assert isinstance(body, dict), response.data[:300]
        assert "error" in body or body.get("status") == "not_ready", body


# -- the apps, with nothing to talk to -----------------------------------------------------------


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("http-fuzz")
    store = EncryptedFileSecrets(directory / "secrets.enc", MASTER_KEY)
    for path, values in SERVICE_SECRETS.items():
        store.write(path, values)
    database = f"sqlite:///{directory / 'reconciler.db'}"
    upgrade(database)
    return {
        "MLC_ENVIRONMENT": "test",
        "MLC_AMQP_URL": f"amqp://guest:guest@{NOWHERE}/%2F",
        "MLC_SECRETS_BACKEND": "file",
        "MLC_SECRETS_FILE": str(store.path),
        "MLC_MASTER_KEY": MASTER_KEY,
        "MLC_DATABASE_URL": database,
        "MLC_STRIPE_API_BASE": f"http://{NOWHERE}",
        "MLC_STRIPE_MAX_NETWORK_RETRIES": "0",
        "MLC_STRIPE_RATE_LIMIT_RETRIES": "0",
        # Budgets far above a run's, so the fuzzing reaches the views rather than the limiter.
        "MLC_RATELIMIT_WEBHOOK_REFUSALS": "1000000/minute",
        "MLC_RATELIMIT_AUTH_FAILURES": "1000000/minute",
        "MLC_RATELIMIT_API": "1000000/minute",
    }


@pytest.fixture
def env(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This module's ``MLC_*`` settings, and no others."""
    for name in [n for n in os.environ if n.startswith("MLC_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def bc_app(env: dict[str, str]) -> Flask:
    from bc_gateway import create_app

    return create_app()


@pytest.fixture
def stripe_app(env: dict[str, str]) -> Flask:
    from stripe_gateway import create_app

    return create_app()


@pytest.fixture
def reconciler_app(env: dict[str, str]) -> Flask:
    from reconciler.api import create_app

    return create_app()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


FORGED = [{}, bearer("x"), bearer("eyJhbGciOiJub25lIn0.e30."), {"Authorization": "Basic \x00"}]


class TestNoRequestIsA500:
    @FUZZ
    @given(data=st.data())
    def test_bc_gateway(self, bc_app: Flask, data: st.DataObject) -> None:
        credentials = [*FORGED, bearer(service_token("bc-gateway"))]
        check_answer(bc_app, data.draw(requests(bc_app, credentials)))

    @FUZZ
    @given(data=st.data())
    def test_stripe_gateway(self, stripe_app: Flask, data: st.DataObject) -> None:
        credentials = [*FORGED, bearer(service_token("stripe-gateway"))]
        check_answer(stripe_app, data.draw(requests(stripe_app, credentials)))

    @FUZZ
    @given(data=st.data())
    def test_reconciler_api(self, reconciler_app: Flask, data: st.DataObject) -> None:
        credentials = [*FORGED, bearer(REPLAY_TOKEN)]
        check_answer(reconciler_app, data.draw(requests(reconciler_app, credentials)))


# Two 500s writing these strategies found in ``bc_gateway.notifications``, now fixed (each is a
# skipped element and a 202): a resource URL with an unclosed IPv6 host (urlsplit's ValueError)
# and a time in year 1 or 9999 whose offset overflows the conversion to UTC. The strategies cover
# both shapes, and ``test_the_two_notifications_that_once_gave_500`` pins them.
IPV6_RESOURCE = "https://[::1/api/v2.0/companies(1)/salesInvoices(2)"
SAFE_YEARS = (dt.datetime.min, dt.datetime.max)

ZONES: st.SearchStrategy[dt.tzinfo] = st.timezones()
moments = st.one_of(
    st.datetimes(*SAFE_YEARS).map(dt.datetime.isoformat),
    st.datetimes(*SAFE_YEARS, timezones=ZONES).map(dt.datetime.isoformat),
    text,
    st.integers(),
    st.none(),
)
notification_elements = st.fixed_dictionaries(
    {"clientState": st.just(CLIENT_STATE)},
    optional={
        "subscriptionId": text | st.integers(),
        "expirationDateTime": moments,
        "resource": st.one_of(
            text | st.just(IPV6_RESOURCE),
            st.builds(
                "api/v2.0/companies({})/{}({})".format,
                st.uuids().map(str) | text,
                st.sampled_from(["salesInvoices", "customers", "companies"]) | text,
                st.uuids().map(str) | text,
            ),
            st.builds(
                "api/v2.0/companies({})/customers?$filter=lastModifiedDateTime gt {}".format,
                st.uuids().map(str),
                moments,
            ),
        ),
        "changeType": st.sampled_from(["created", "updated", "deleted", "collection"]) | text,
        "lastModifiedDateTime": moments,
    },
)
stripe_events = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just("evt_1") | text,
        "object": st.just("event") | text,
        "api_version": st.none() | text,
        "created": st.integers() | st.floats() | text,
        "data": st.fixed_dictionaries(
            {},
            optional={"object": st.fixed_dictionaries({}, optional={"id": text, "object": text})},
        )
        | json_values,
        "livemode": st.booleans() | json_values,
        "type": st.sampled_from(["invoice.paid", "charge.refunded", "payout.paid", "x"]) | text,
    },
)


class TestWebhooksWithTheirProof:
    """Bodies that carry the real clientState or a valid Stripe signature reach the parsers."""

    @FUZZ
    @given(elements=st.lists(notification_elements, max_size=4))
    def test_bc_notifications(self, bc_app: Flask, elements: list[dict[str, Any]]) -> None:
        body = json.dumps({"value": elements}).encode()
        response = bc_app.test_client().post(
            "/webhooks/bc", data=body, content_type="application/json"
        )

        # Broker down here: what was understood is a 503 (BC retries), never a 500, and never a
        # 4xx (BC would delete the subscription) unless the JSON itself is hostile (a lone
        # surrogate: text BC cannot have written).
        try:
            jsonbody.loads(body)
        except jsonbody.HostileJSON:
            assert response.status_code == 400, (response.status_code, body)
        else:
            assert response.status_code in (202, 503), (response.status_code, body)

    @pytest.mark.parametrize(
        "element",
        [
            {"resource": IPV6_RESOURCE, "lastModifiedDateTime": "2026-11-24T12:54:26Z"},
            {
                "resource": "api/v2.0/companies(1)/salesInvoices(2)",
                "lastModifiedDateTime": "9999-12-31T23:59:59-01:00",
            },
            {
                "resource": "api/v2.0/companies(1)/salesInvoices(2)",
                "lastModifiedDateTime": "0001-01-01T00:00:00+01:00",
            },
        ],
    )
    def test_the_two_notifications_that_once_gave_500(
        self, bc_app: Flask, element: dict[str, Any]
    ) -> None:
        body = {
            "value": [
                {
                    "subscriptionId": "s1",
                    "clientState": CLIENT_STATE,
                    "changeType": "updated",
                    **element,
                }
            ]
        }
        response = bc_app.test_client().post("/webhooks/bc", json=body)
        # The element cannot be read, so it is skipped: 202 (a 500 would make BC retry forever).
        assert response.status_code == 202, response.get_json()

    @FUZZ
    @given(event=stripe_events | json_values)
    def test_stripe_events(self, stripe_app: Flask, event: Any) -> None:
        payload = json.dumps(event).encode()
        timestamp = int(time.time())
        mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + payload, "sha256")
        response = stripe_app.test_client().post(
            "/webhooks/stripe",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": f"t={timestamp},v1={mac.hexdigest()}"},
        )

        assert response.status_code in (200, 400, 503), (response.status_code, payload)


def test_the_fuzzed_apps_can_answer_at_all(reconciler_app: Flask) -> None:
    """The harness is sound: with valid credentials a read reaches its view."""
    response = reconciler_app.test_client().get("/records", headers=bearer(REPLAY_TOKEN))

    assert response.status_code == 200
    assert response.get_json() == {"data": [], "next_cursor": None}
