"""Tests for mlconnector.web: JSON errors, body limits, correlation ids, refusal logs, health."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping

import pytest
from flask import Flask
from flask import request
from flask.testing import FlaskClient
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate
from werkzeug.exceptions import NotFound
from werkzeug.test import TestResponse

from mlconnector.logging import get_correlation_id
from mlconnector.redaction import MASK
from mlconnector.redaction import forget_registered_secrets
from mlconnector.redaction import register_secret
from mlconnector.web import CORRELATION_HEADER
from mlconnector.web import DEFAULT_MAX_BODY_BYTES
from mlconnector.web import ApiError
from mlconnector.web import HealthCheck
from mlconnector.web import configure_app
from mlconnector.web import error_response
from mlconnector.web import health_blueprint
from mlconnector.web import note_refusal
from mlconnector.web import run_checks

STORE_SECRET = "db-password-from-store-77"
MAX_BODY = 64


class InvoiceLocked(ApiError):
    status_code = 409
    code = "invoice_locked"


class PaymentSchema(Schema):
    amount = fields.Int(required=True, strict=True)
    currency = fields.Str(required=True, validate=validate.Length(equal=3))


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    forget_registered_secrets()
    register_secret(STORE_SECRET)
    yield
    forget_registered_secrets()


def _make_app(checks: Mapping[str, HealthCheck] | None = None, timeout: float = 2.0) -> Flask:
    app = Flask(__name__)
    app.testing = True
    configure_app(app, max_body_bytes=MAX_BODY)

    @app.get("/api-error")
    def api_error() -> dict[str, object]:
        raise ApiError(
            "invoice INV-1 cannot be paid",
            status_code=409,
            code="invoice_locked",
            details={"invoice": "INV-1"},
        )

    @app.get("/api-error-default")
    def api_error_default() -> dict[str, object]:
        raise ApiError(f"bad input near sk_test_abc123 and {STORE_SECRET}")

    @app.get("/api-error-subclass")
    def api_error_subclass() -> dict[str, object]:
        raise InvoiceLocked("locked by a posting run")

    @app.post("/payments")
    def payments() -> dict[str, object]:
        return {"loaded": PaymentSchema().load(request.get_json())}

    @app.get("/missing")
    def missing() -> dict[str, object]:
        raise NotFound("no invoice INV-9")

    @app.get("/crash")
    def crash() -> dict[str, object]:
        raise RuntimeError(f"connect failed: postgresql://mlc:{STORE_SECRET}@db/mlc")

    @app.post("/echo")
    def echo() -> dict[str, object]:
        return {"size": len(request.get_data())}

    @app.get("/cid")
    def cid() -> dict[str, object]:
        return {"cid": get_correlation_id()}

    @app.before_request
    def guard() -> tuple[object, int] | None:
        # A guard in the style of the services' authentication: answers before any view.
        if request.path == "/guarded" and request.headers.get("Authorization") != "Bearer ok":
            note_refusal("no bearer token")
            return error_response(401, "unauthorized", "a bearer token is required")
        return None

    @app.get("/guarded")
    def guarded() -> dict[str, object]:
        return {"ok": True}

    @app.post("/refuse")
    def refuse() -> dict[str, object]:
        note_refusal("the invoice is locked by a posting run")
        raise ApiError("refused", status_code=409, code="invoice_locked")

    app.register_blueprint(health_blueprint(checks or {}, timeout=timeout))
    return app


@pytest.fixture
def client() -> FlaskClient:
    return _make_app().test_client()


class TestErrorHandlers:
    def test_api_error_uses_its_status_and_code(self, client: FlaskClient) -> None:
        response = client.get("/api-error")
        assert response.status_code == 409
        assert response.is_json
        assert response.get_json() == {
            "error": {
                "code": "invoice_locked",
                "message": "invoice INV-1 cannot be paid",
                "details": {"invoice": "INV-1"},
            }
        }

    def test_api_error_defaults_to_400_bad_request_and_redacts_its_message(
        self, client: FlaskClient
    ) -> None:
        response = client.get("/api-error-default")
        assert response.status_code == 400
        assert response.get_json() == {
            "error": {"code": "bad_request", "message": f"bad input near {MASK} and {MASK}"}
        }

    def test_an_api_error_subclass_declares_status_and_code(self, client: FlaskClient) -> None:
        response = client.get("/api-error-subclass")
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "invoice_locked"

    def test_a_validation_error_is_422_with_the_field_errors(self, client: FlaskClient) -> None:
        response = client.post("/payments", json={"amount": "12", "currency": "EURO"})
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        assert error["message"] == "the request did not validate"
        assert set(error["details"]["fields"]) == {"amount", "currency"}
        assert error["details"]["fields"]["amount"] == ["Not a valid integer."]

    def test_a_valid_body_passes(self, client: FlaskClient) -> None:
        response = client.post("/payments", json={"amount": 1250, "currency": "EUR"})
        assert response.status_code == 200
        assert response.get_json() == {"loaded": {"amount": 1250, "currency": "EUR"}}

    def test_field_errors_do_not_echo_a_secret_back(self, client: FlaskClient) -> None:
        response = client.post(
            "/payments", json={"amount": 1, "currency": "EUR", "sk_live_abc123": "x"}
        )
        assert response.status_code == 422
        assert b"sk_live_abc123" not in response.data
        assert response.get_json()["error"]["details"]["fields"] == {MASK: ["Unknown field."]}

    def test_a_raised_not_found_is_a_json_404(self, client: FlaskClient) -> None:
        response = client.get("/missing")
        assert response.status_code == 404
        assert response.get_json() == {
            "error": {"code": "not_found", "message": "no invoice INV-9"}
        }

    def test_an_unknown_route_is_a_json_404(self, client: FlaskClient) -> None:
        response = client.get("/no/such/route")
        assert response.status_code == 404
        assert response.is_json
        assert response.get_json()["error"]["code"] == "not_found"

    def test_a_wrong_method_is_a_json_405_that_keeps_the_allow_header(
        self, client: FlaskClient
    ) -> None:
        response = client.delete("/echo")
        assert response.status_code == 405
        assert response.get_json()["error"]["code"] == "method_not_allowed"
        assert "POST" in response.headers["Allow"]
        assert response.content_type == "application/json"

    def test_malformed_json_is_a_json_400(self, client: FlaskClient) -> None:
        response = client.post("/payments", data=b"{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "bad_request"

    def test_an_unexpected_error_is_a_generic_500_without_secret_or_traceback(
        self, client: FlaskClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="mlconnector.web"):
            response = client.get("/crash")
        assert response.status_code == 500
        assert response.get_json() == {
            "error": {"code": "internal_error", "message": "internal error; see the service log"}
        }
        body = response.get_data(as_text=True)
        for leak in (STORE_SECRET, "Traceback", "RuntimeError", "postgresql"):
            assert leak not in body
        # The traceback goes to the log instead (whose handler redacts it).
        (record,) = [r for r in caplog.records if r.name == "mlconnector.web"]
        assert record.getMessage() == "unhandled error in GET /crash"
        assert record.exc_info is not None

    def test_api_error_to_dict_omits_empty_details_and_redacts_details(self) -> None:
        assert ApiError("plain").to_dict() == {"error": {"code": "bad_request", "message": "plain"}}
        error = ApiError("x", details={"url": "amqp://u:pw@h/", "ids": [STORE_SECRET]})
        assert error.to_dict()["error"]["details"] == {
            "url": "amqp://u:[REDACTED]@h/",
            "ids": [MASK],
        }
        assert error.details == {"url": "amqp://u:pw@h/", "ids": [STORE_SECRET]}

    def test_error_response_builds_the_shared_shape(self) -> None:
        app = Flask(__name__)
        with app.app_context():
            response, status = error_response(
                503, "bus_down", f"broker refused {STORE_SECRET}", retry_in_s=5
            )
        assert status == 503
        assert response.get_json() == {
            "error": {
                "code": "bus_down",
                "message": f"broker refused {MASK}",
                "details": {"retry_in_s": 5},
            }
        }


def _chunked_post(client: FlaskClient, body: bytes) -> TestResponse:
    """POST a body with no Content-Length, as gunicorn presents a chunked request to the app."""
    return client.post(
        "/echo",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", CORRELATION_HEADER: "chunked-1"},
        environ_overrides={"wsgi.input_terminated": True},
    )


class TestBodyLimit:
    def test_the_default_limit_is_256_kib(self) -> None:
        app = Flask(__name__)
        configure_app(app)
        assert app.config["MAX_CONTENT_LENGTH"] == DEFAULT_MAX_BODY_BYTES == 256 * 1024

    def test_configure_app_sets_the_limit(self) -> None:
        assert _make_app().config["MAX_CONTENT_LENGTH"] == MAX_BODY

    def test_a_body_at_the_limit_is_accepted(self, client: FlaskClient) -> None:
        response = client.post("/echo", data=b"x" * MAX_BODY)
        assert response.status_code == 200
        assert response.get_json() == {"size": MAX_BODY}

    def test_a_declared_body_over_the_limit_is_a_json_413(self, client: FlaskClient) -> None:
        response = client.post("/echo", data=b"x" * (MAX_BODY + 1))
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "request_entity_too_large"
        assert response.headers[CORRELATION_HEADER]

    def test_an_oversized_json_body_is_413_before_parsing(self, client: FlaskClient) -> None:
        payload = b'{"amount": 1, "currency": "EUR", "pad": "' + b"x" * MAX_BODY + b'"}'
        response = client.post("/payments", data=payload, content_type="application/json")
        assert response.status_code == 413

    @pytest.mark.parametrize("size", [MAX_BODY + 1, MAX_BODY * 4])
    def test_a_streamed_body_over_the_limit_is_413_not_truncated(
        self, client: FlaskClient, size: int
    ) -> None:
        response = _chunked_post(client, b"x" * size)
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "request_entity_too_large"
        assert response.headers[CORRELATION_HEADER] == "chunked-1"

    @pytest.mark.parametrize("size", [0, 10, MAX_BODY])
    def test_a_streamed_body_within_the_limit_is_read_whole(
        self, client: FlaskClient, size: int
    ) -> None:
        response = _chunked_post(client, b"y" * size)
        assert response.status_code == 200
        assert response.get_json() == {"size": size}


class TestCorrelationIds:
    def test_a_new_id_is_generated_bound_and_echoed(self, client: FlaskClient) -> None:
        response = client.get("/cid")
        cid = response.headers[CORRELATION_HEADER]
        assert len(cid) == 32
        assert int(cid, 16) >= 0
        assert response.get_json() == {"cid": cid}

    def test_each_request_gets_its_own_id(self, client: FlaskClient) -> None:
        ids = {client.get("/cid").headers[CORRELATION_HEADER] for _ in range(5)}
        assert len(ids) == 5

    def test_a_valid_incoming_id_is_kept(self, client: FlaskClient) -> None:
        response = client.get("/cid", headers={CORRELATION_HEADER: "gw-req-0042"})
        assert response.headers[CORRELATION_HEADER] == "gw-req-0042"
        assert response.get_json() == {"cid": "gw-req-0042"}

    def test_an_id_of_exactly_64_characters_is_kept(self, client: FlaskClient) -> None:
        cid = "a" * 64
        assert (
            client.get("/cid", headers={CORRELATION_HEADER: cid}).headers[CORRELATION_HEADER] == cid
        )

    @pytest.mark.parametrize(
        "incoming", ["a" * 65, "abc\x07def", "tab\there", "x" * 1000], ids=str.__len__
    )
    def test_an_overlong_or_non_printable_id_is_replaced(
        self, client: FlaskClient, incoming: str
    ) -> None:
        response = client.get("/cid", headers={CORRELATION_HEADER: incoming})
        cid = response.headers[CORRELATION_HEADER]
        assert cid != incoming
        assert len(cid) == 32
        assert response.get_json() == {"cid": cid}

    def test_error_responses_carry_the_id_too(self, client: FlaskClient) -> None:
        for path in ("/api-error", "/missing", "/crash"):
            response = client.get(path, headers={CORRELATION_HEADER: "err-1"})
            assert response.headers[CORRELATION_HEADER] == "err-1"

    def test_the_id_is_unbound_after_the_request(self, client: FlaskClient) -> None:
        client.get("/cid", headers={CORRELATION_HEADER: "short-lived"})
        assert get_correlation_id() is None


class TestHealth:
    def test_healthz_says_alive_without_running_the_checks(self) -> None:
        calls: list[str] = []

        def failing() -> None:
            calls.append("called")
            raise RuntimeError("down")

        response = _make_app({"db": failing}).test_client().get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}
        assert calls == []

    def test_readyz_is_200_when_every_check_passes(self) -> None:
        calls: list[str] = []
        checks: dict[str, HealthCheck] = {
            "database": lambda: calls.append("database"),
            "rabbitmq": lambda: calls.append("rabbitmq"),
        }
        response = _make_app(checks).test_client().get("/readyz")
        assert response.status_code == 200
        assert response.get_json() == {
            "status": "ready",
            "checks": {"database": {"ok": True}, "rabbitmq": {"ok": True}},
        }
        assert sorted(calls) == ["database", "rabbitmq"]

    def test_readyz_without_checks_is_ready(self, client: FlaskClient) -> None:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ready", "checks": {}}

    def test_readyz_is_503_and_names_the_failing_check_with_redacted_text(self) -> None:
        def rabbitmq() -> None:
            raise ConnectionError(f"amqp://mlc:{STORE_SECRET}@rabbit:5672 refused")

        checks: dict[str, HealthCheck] = {"database": lambda: None, "rabbitmq": rabbitmq}
        response = _make_app(checks).test_client().get("/readyz")
        assert response.status_code == 503
        assert STORE_SECRET.encode() not in response.data
        assert response.get_json() == {
            "status": "not_ready",
            "checks": {
                "database": {"ok": True},
                "rabbitmq": {
                    "ok": False,
                    "error": "ConnectionError: amqp://mlc:[REDACTED]@rabbit:5672 refused",
                },
            },
        }

    def test_a_hanging_check_is_reported_as_timed_out_and_readyz_still_answers(self) -> None:
        release = threading.Event()

        def hangs() -> None:
            release.wait(10)

        checks: dict[str, HealthCheck] = {"secrets": hangs, "database": lambda: None}
        client = _make_app(checks, timeout=0.2).test_client()
        try:
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started
        finally:
            release.set()
        assert response.status_code == 503
        assert response.get_json()["checks"] == {
            "secrets": {"ok": False, "error": "no answer within 0.2s"},
            "database": {"ok": True},
        }
        assert elapsed < 2.0

    def test_run_checks_reports_every_check_by_name(self) -> None:
        def broken() -> None:
            raise ValueError("bad token sk_live_abc123")

        results = run_checks({"ok": lambda: True, "broken": broken}, timeout=1.0)
        assert results == {
            "ok": {"ok": True},
            "broken": {"ok": False, "error": f"ValueError: bad token {MASK}"},
        }

    def test_run_checks_with_no_checks_is_empty(self) -> None:
        assert run_checks({}, timeout=1.0) == {}


class TestRunChecksVerdicts:
    def test_a_check_answering_false_counts_as_not_ready(self) -> None:
        from mlconnector.web import run_checks

        results = run_checks({"db": lambda: False, "bus": lambda: True, "x": lambda: None}, 1.0)
        assert results == {
            "db": {"ok": False, "error": "check failed"},
            "bus": {"ok": True},
            "x": {"ok": True},
        }


class _FailingBody(io.RawIOBase):
    """A server's ``wsgi.input`` whose read fails the way ``error`` says."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: object) -> int:
        raise self.error


def _post_failing_body(client: FlaskClient, error: Exception, cid: str) -> TestResponse:
    return client.post(
        "/echo",
        headers={CORRELATION_HEADER: cid},
        environ_overrides={"wsgi.input": _FailingBody(error), "CONTENT_LENGTH": "10"},
    )


class TestRefusalLogging:
    """Every 4xx is logged once at WARNING with its correlation id; nothing else at WARNING."""

    @pytest.fixture
    def warnings(self, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
        caplog.set_level(logging.DEBUG)
        return caplog

    @staticmethod
    def only_warning(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
        records = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(records) == 1, [r.getMessage() for r in records]
        assert records[0].levelno == logging.WARNING
        return records[0]

    @pytest.mark.parametrize(
        ("method", "path", "kwargs", "status", "code"),
        [
            ("GET", "/guarded", {}, 401, "unauthorized"),
            ("GET", "/api-error", {}, 409, "invoice_locked"),
            ("POST", "/payments", {"json": {"amount": "x"}}, 422, "validation_failed"),
            (
                "POST",
                "/payments",
                {"data": b"{", "content_type": "application/json"},
                400,
                "bad_request",
            ),
            ("GET", "/no/such/route", {}, 404, "not_found"),
            ("DELETE", "/echo", {}, 405, "method_not_allowed"),
            ("POST", "/echo", {"data": b"x" * (MAX_BODY + 1)}, 413, "request_entity_too_large"),
        ],
        ids=lambda value: str(value) if isinstance(value, int) else None,
    )
    def test_each_refusal_is_one_warning_with_the_correlation_id(
        self,
        client: FlaskClient,
        warnings: pytest.LogCaptureFixture,
        method: str,
        path: str,
        kwargs: dict[str, object],
        status: int,
        code: str,
    ) -> None:
        response = client.open(
            path, method=method, headers={CORRELATION_HEADER: "cid-4xx"}, **kwargs
        )

        assert response.status_code == status
        record = self.only_warning(warnings)
        assert record.__dict__["correlation_id"] == "cid-4xx"
        expected = f"refused {method} {path}: {status} {code} (correlation id cid-4xx)"
        assert record.getMessage().startswith(expected)
        fields = record.__dict__
        assert [fields[k] for k in ("http_method", "http_path", "http_status", "error_code")] == [
            method,
            path,
            status,
            code,
        ]

    def test_a_streamed_body_over_the_limit_is_one_warning(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        assert _chunked_post(client, b"x" * (MAX_BODY * 2)).status_code == 413
        assert "413 request_entity_too_large (correlation id chunked-1)" in (
            self.only_warning(warnings).getMessage()
        )

    def test_the_reason_a_refuser_noted_is_on_the_line(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        assert client.get("/guarded", headers={CORRELATION_HEADER: "g-1"}).status_code == 401
        assert self.only_warning(warnings).getMessage() == (
            "refused GET /guarded: 401 unauthorized (correlation id g-1); no bearer token"
        )
        warnings.clear()
        assert client.post("/refuse", headers={CORRELATION_HEADER: "r-1"}).status_code == 409
        assert (
            self.only_warning(warnings)
            .getMessage()
            .endswith("; the invoice is locked by a posting run")
        )

    def test_a_generated_correlation_id_is_logged_and_echoed(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        response = client.get("/missing")
        cid = response.headers[CORRELATION_HEADER]
        assert self.only_warning(warnings).__dict__["correlation_id"] == cid

    def test_neither_query_body_nor_header_values_are_logged(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        response = client.post(
            "/payments?token=sk_live_inquery123",
            json={"amount": "sk_live_inbody123", "currency": "EUR"},
            headers={"Authorization": "Bearer sk_live_inheader123", CORRELATION_HEADER: "q-1"},
        )
        assert response.status_code == 422
        record = self.only_warning(warnings)
        assert (
            record.getMessage()
            == "refused POST /payments: 422 validation_failed (correlation id q-1)"
        )
        assert "sk_live_in" not in warnings.text

    def test_a_control_character_in_the_path_cannot_forge_a_log_line(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        client.get("/nope%0Aforged%20line", headers={CORRELATION_HEADER: "p-1"})
        message = self.only_warning(warnings).getMessage()
        assert "\n" not in message
        assert "/nope?forged line" in message

    def test_success_and_server_errors_are_not_logged_as_refusals(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        assert client.get("/healthz").status_code == 200
        assert client.get("/guarded", headers={"Authorization": "Bearer ok"}).status_code == 200
        assert [r for r in warnings.records if r.levelno >= logging.WARNING] == []
        assert client.get("/crash").status_code == 500
        assert [r.levelname for r in warnings.records if r.levelno >= logging.WARNING] == ["ERROR"]

    def test_a_body_that_stopped_arriving_is_a_408_and_one_warning(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        response = _post_failing_body(client, TimeoutError("the request did not arrive"), "t-1")

        assert response.status_code == 408
        assert response.get_json()["error"]["code"] == "request_timeout"
        assert response.headers["Connection"] == "close"
        assert response.headers[CORRELATION_HEADER] == "t-1"
        assert self.only_warning(warnings).getMessage() == (
            "refused POST /echo: 408 request_timeout (correlation id t-1); "
            "the request did not arrive"
        )

    def test_a_body_the_server_could_not_decode_is_a_400_and_one_warning(
        self, client: FlaskClient, warnings: pytest.LogCaptureFixture
    ) -> None:
        error = ValueError("the request body is malformed (InvalidChunkSize)")
        response = _post_failing_body(client, error, "m-1")

        assert response.status_code == 400
        assert "malformed" in response.get_json()["error"]["message"]
        assert "m-1" in self.only_warning(warnings).getMessage()
