"""Tests for mlconnector.metrics, metrics_export and metrics_push, and the gunicorn hooks of
mlconnector.serving.

The metrics of this process live in prometheus-client's default registry for the whole test
session, so every test reads a figure before and after the event and checks the difference.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask import request
from metrics_support import count
from metrics_support import sample
from metrics_support import samples
from metrics_support import scrape_client
from metrics_support import scrape_url

from mlconnector import metrics
from mlconnector import metrics_export
from mlconnector import metrics_push
from mlconnector.bus import Delivery
from mlconnector.serving import gunicorn_config
from mlconnector.serving import metrics_directory
from mlconnector.web import ApiError
from mlconnector.web import configure_app
from mlconnector.web import note_refusal

ROOT = Path(__file__).resolve().parents[3]


def _scrape(collectors: list[metrics_export.ScrapeTimeCollector] | None = None) -> str:
    body, content_type = metrics_export.render(collectors or [], None)
    assert content_type.startswith("text/plain")
    return body.decode()


class Counting(metrics_export.ScrapeTimeCollector):
    """A collector whose computation a test steers: a value, a failure, a delay."""

    def __init__(self, *, value: float = 1.0, **kwargs: Any) -> None:
        super().__init__("counting", **kwargs)
        self.value = value
        self.calls = 0
        self.fail = False
        self.delay_s = 0.0

    def compute(self) -> list[Any]:
        self.calls += 1
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("database down")
        family = metrics.DEAD_LETTERS.family()
        family.add_metric([], self.value)
        return [family]


class TestNames:
    def test_every_name_has_the_prefix_and_counters_get_total(self) -> None:
        names = metrics.exported_names()
        assert all(name.startswith("mlc_") for name in names)
        assert "mlc_webhooks_refused_total" in names
        assert "mlc_api_request_duration_seconds_bucket" in names
        assert "mlc_records" in names
        # prometheus-client adds _total itself; a spec that had it would export _total_total.
        assert not any(s.name.endswith("_total") for s in metrics.EVENT_METRICS)

    def test_time_figures_say_their_unit(self) -> None:
        durations = (metrics.API_DURATION, metrics.CONSUMER_HANDLING)
        ages = (metrics.CONSUMER_MESSAGE_AGE, metrics.CONSUMER_LAST_AGE, metrics.OLDEST_PENDING)
        moments = (
            metrics.WEBHOOK_LAST_ACCEPTED,
            metrics.BC_SUBSCRIPTION_EXPIRY,
            metrics.POLL_LAST_SUCCESS,
        )
        for spec in (*durations, *ages):
            assert spec.name.endswith("_seconds"), spec.name
        for spec in moments:  # Unix times, not "time since": Prometheus' own advice
            assert spec.name.endswith("_timestamp_seconds"), spec.name

    def test_a_scrape_shows_only_declared_names(self) -> None:
        metrics.observe_api_call("bc", "read", 200, 0.1)
        body = _scrape([Counting()])
        shown = {s.name for s in samples(body)}
        assert {n for n in shown if n.startswith("mlc_")} <= metrics.exported_names()


class TestObserving:
    @pytest.mark.parametrize(
        ("status", "label"),
        [(200, "2xx"), (204, "2xx"), (302, "3xx"), (404, "4xx"), (429, "429"), (503, "5xx"),
         (None, "error"), (999, "error")],
    )  # fmt: skip
    def test_status_classes(self, status: int | None, label: str) -> None:
        assert metrics.status_class(status) == label

    def test_label_values_stay_bounded(self) -> None:
        assert metrics.label_value("client_state") == "client_state"
        assert metrics.label_value("Rate_Limited ") == "rate_limited"
        assert metrics.label_value("caller 10.0.0.1 lacks x") == "other"
        assert metrics.label_value("x" * 41) == "other"
        assert metrics.label_value(None) == "other"

    def test_an_api_call_moves_the_histogram_and_the_throttle_and_error_counters(self) -> None:
        before = _scrape()
        metrics.observe_api_call("stripe", "create", 429, 0.2)
        metrics.observe_api_call("stripe", "create", 502, 0.3)
        metrics.observe_api_call("stripe", "create", None, 1.0)
        after = _scrape()

        def delta(name: str, **labels: str) -> float:
            return count(after, name, **labels) - count(before, name, **labels)

        duration = "mlc_api_request_duration_seconds_count"
        assert delta(duration, system="stripe", operation="create", status="429") == 1
        assert delta(duration, system="stripe", operation="create", status="5xx") == 1
        assert delta(duration, system="stripe", operation="create", status="error") == 1
        assert delta("mlc_api_throttled_total", system="stripe") == 1
        assert delta("mlc_api_server_errors_total", system="stripe") == 1

    def test_deliveries_are_counted_by_outcome(self) -> None:
        before = _scrape()
        for outcome in metrics.DELIVERY_OUTCOMES:
            metrics.observe_delivery("q.unit", outcome)
        metrics.observe_handling("q.unit", "acked", 0.5)
        metrics.observe_message_age("q.unit", 42.0)
        after = _scrape()
        for outcome in metrics.DELIVERY_OUTCOMES:
            name = "mlc_consumer_messages_total"
            moved = count(after, name, queue="q.unit", outcome=outcome) - count(
                before, name, queue="q.unit", outcome=outcome
            )
            assert moved == 1, outcome
        assert sample(after, "mlc_consumer_last_message_age_seconds", queue="q.unit") == 42.0
        assert count(after, "mlc_consumer_message_age_seconds_count", queue="q.unit") >= 1
        assert count(after, "mlc_consumer_handling_duration_seconds_sum", queue="q.unit") >= 0.5

    def test_the_consumers_observer_counts_each_settled_delivery(self) -> None:
        before = _scrape()
        published = int(time.time()) - 30
        delivery = Delivery(b"{}", "k", "m", None, {}, False, published_at=published)
        for outcome in ("ack", "retry", "wait", "dead", "requeue"):
            metrics.consumer_observer("q.observed", outcome, delivery, 0.25)
        after = _scrape()
        name = "mlc_consumer_messages_total"

        def delta(outcome: str) -> float:
            return count(after, name, queue="q.observed", outcome=outcome) - count(
                before, name, queue="q.observed", outcome=outcome
            )

        assert delta("consumed") == 5
        for settled in ("acked", "retried", "waited", "dead_lettered", "requeued"):
            assert delta(settled) == 1, settled
        handled = "mlc_consumer_handling_duration_seconds_count"
        assert (
            count(after, handled, queue="q.observed", outcome="ack")
            - count(before, handled, queue="q.observed", outcome="ack")
            == 1
        )
        # Thirty seconds old when it arrived (give or take the clock's whole seconds).
        age = sample(after, "mlc_consumer_last_message_age_seconds", queue="q.observed")
        assert 28 <= age <= 32
        with pytest.raises(ValueError, match="unknown consumer outcome"):
            metrics.consumer_observer("q.observed", "lost", delivery, 0.0)

    def test_an_unknown_delivery_outcome_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="unknown delivery outcome"):
            metrics.observe_delivery("q.unit", "lost")


class TestScrapeTimeCollectors:
    def test_a_result_is_reused_within_its_ttl(self) -> None:
        collector = Counting(ttl_s=60)
        _scrape([collector])
        body = _scrape([collector])
        assert collector.calls == 1
        assert sample(body, "mlc_dead_letters") == 1.0
        assert sample(body, "mlc_scrape_error", collector="counting") == 0.0

    def test_a_failure_is_an_error_gauge_not_a_failed_scrape(self) -> None:
        collector = Counting(ttl_s=0)
        collector.fail = True
        body = _scrape([collector])
        assert sample(body, "mlc_dead_letters") is None
        assert sample(body, "mlc_scrape_error", collector="counting") == 1.0
        collector.fail = False
        body = _scrape([collector])
        assert sample(body, "mlc_scrape_error", collector="counting") == 0.0

    def test_a_slow_computation_does_not_hold_the_scrape(self) -> None:
        collector = Counting(ttl_s=0, timeout_s=0.1)
        collector.delay_s = 1.0
        started = time.monotonic()
        body = _scrape([collector])
        assert time.monotonic() - started < 0.8
        assert sample(body, "mlc_scrape_error", collector="counting") == 1.0
        # The one still running is waited for, not doubled.
        _scrape([collector])
        assert collector.calls == 1

    def test_in_the_background_the_last_value_is_kept_through_failures(self) -> None:
        collector = Counting(ttl_s=0, background=True, value=7.0)
        _scrape([collector])  # starts the first computation, serves nothing yet
        assert _wait(lambda: sample(_scrape([collector]), "mlc_dead_letters") == 7.0)
        collector.fail = True
        assert _wait(
            lambda: sample(_scrape([collector]), "mlc_scrape_error", collector="counting") == 1.0
        )
        assert sample(_scrape([collector]), "mlc_dead_letters") == 7.0


def _wait(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _webhook_app(collectors: list[metrics_export.ScrapeTimeCollector] | None = None) -> Flask:
    app = Flask(__name__)
    configure_app(app, max_body_bytes=64)

    @app.post("/hooks/unit")
    def hook() -> tuple[dict[str, object], int]:
        request.get_data()  # 413 here when the body is over the limit
        outcome = app.config.get("OUTCOME", "ok")
        if outcome == "forged":
            note_refusal("forged by 10.0.0.1", kind="signature")
            raise ApiError("invalid signature", code="invalid_signature")
        if outcome == "coded":
            raise ApiError("bad payload", code="invalid_payload")
        if outcome == "down":
            raise ApiError("not queued", status_code=503, code="not_queued")
        return {"ok": True}, 200

    metrics_export.install_metrics(
        app, webhooks={"/hooks/unit": "unit"}, collectors=collectors or []
    )
    return app


class TestFlaskApp:
    def test_every_answer_on_a_webhook_path_is_counted_with_its_reason(self) -> None:
        app = _webhook_app()
        client = app.test_client()
        before = scrape_client(client)
        for outcome in ("ok", "forged", "coded", "down"):
            app.config["OUTCOME"] = outcome
            client.post("/hooks/unit", data=b"{}")
        client.post("/hooks/unit", data=b"x" * 100)  # werkzeug's 413
        after = scrape_client(client)

        def delta(name: str, **labels: str) -> float:
            return count(after, name, **labels) - count(before, name, **labels)

        assert delta("mlc_webhooks_accepted_total", source="unit") == 1
        assert delta("mlc_webhooks_refused_total", source="unit", reason="signature") == 1
        assert delta("mlc_webhooks_refused_total", source="unit", reason="invalid_payload") == 1
        reason = "request_entity_too_large"
        assert delta("mlc_webhooks_refused_total", source="unit", reason=reason) == 1
        assert delta("mlc_webhooks_failed_total", source="unit") == 1
        stamp = sample(after, "mlc_webhook_last_accepted_timestamp_seconds", source="unit")
        assert stamp is not None
        assert abs(stamp - time.time()) < 60

    def test_other_paths_are_not_webhooks(self) -> None:
        app = _webhook_app()
        client = app.test_client()
        before = scrape_client(client)
        client.get("/nowhere")
        after = scrape_client(client)
        assert count(after, "mlc_webhooks_refused_total", source="unit", reason="not_found") == (
            count(before, "mlc_webhooks_refused_total", source="unit", reason="not_found")
        )

    def test_a_failing_collector_does_not_fail_the_scrape(self) -> None:
        broken = Counting(ttl_s=0)
        broken.fail = True
        response = _webhook_app([broken]).test_client().get("/metrics")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_data(as_text=True)
        assert sample(body, "mlc_scrape_error", collector="counting") == 1.0

    def test_openmetrics_is_served_when_asked_for(self) -> None:
        response = (
            _webhook_app()
            .test_client()
            .get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        )
        assert response.mimetype == "application/openmetrics-text"
        assert response.get_data(as_text=True).endswith("# EOF\n")


class TestExporter:
    def test_settings_come_from_the_environment(self) -> None:
        default = metrics_export.ExporterSettings(9102, "127.0.0.1")
        assert metrics_export.ExporterSettings.from_env({}) == default
        every = "0.0.0.0"  # noqa: S104 - what the images set; only read here
        settings = metrics_export.ExporterSettings.from_env(
            {"MLC_METRICS_PORT": "0", "MLC_BIND_HOST": every}
        )
        assert (settings.port, settings.host) == (0, every)

    def test_it_serves_the_metrics_and_the_collectors(self) -> None:
        settings = metrics_export.ExporterSettings(0, "127.0.0.1")
        port = metrics_export.start_exporter(settings, [Counting()])
        assert port
        body = scrape_url(f"http://127.0.0.1:{port}/metrics")
        assert sample(body, "mlc_dead_letters") == 1.0

    def test_a_taken_port_is_logged_and_ignored(self, caplog: pytest.LogCaptureFixture) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            settings = metrics_export.ExporterSettings(port, "127.0.0.1")
            assert metrics_export.start_exporter(settings) is None
        assert "metrics exporter not started" in caplog.text


class _Pushgateway(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(("PUT", self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def pushgateway() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pushgateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Pushgateway.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class TestPollSuccess:
    def test_without_a_pushgateway_nothing_is_pushed(self) -> None:
        assert metrics_push.record_poll_success("stripe", environ={}) is False

    def test_the_timestamp_is_pushed_in_the_group_of_its_source(self, pushgateway: str) -> None:
        pushed = metrics_push.record_poll_success(
            "stripe", environ={"MLC_METRICS_PUSHGATEWAY": pushgateway}
        )
        assert pushed is True
        ((method, path, body),) = _Pushgateway.received
        assert (method, path) == ("PUT", "/metrics/job/ml-connector-poll/source/stripe")
        stamp = sample(body.decode(), "mlc_poll_last_success_timestamp_seconds", source="stripe")
        assert stamp is not None
        assert abs(stamp - time.time()) < 60

    def test_the_namespace_keeps_environments_apart(self, pushgateway: str) -> None:
        environ = {"MLC_METRICS_PUSHGATEWAY": pushgateway, "MLC_METRICS_NAMESPACE": "mlc-prod"}
        assert metrics_push.record_poll_success("bc", environ=environ) is True
        ((_method, path, _body),) = _Pushgateway.received
        assert path == "/metrics/job/ml-connector-poll/namespace/mlc-prod/source/bc"

    def test_a_bad_setting_is_a_warning_not_a_failed_job(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        environ = {"MLC_METRICS_PUSHGATEWAY": "ftp://x", "MLC_METRICS_NAMESPACE": "Bad_NS"}
        assert metrics_push.record_poll_success("bc", environ=environ) is False
        assert "MLC_METRICS_PUSHGATEWAY" in caplog.text
        assert "MLC_METRICS_NAMESPACE" in caplog.text

    def test_an_unreachable_pushgateway_does_not_fail_the_job(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        environ = {"MLC_METRICS_PUSHGATEWAY": f"http://127.0.0.1:{port}"}
        assert metrics_push.record_poll_success("bc", environ=environ, timeout_s=2) is False
        assert "not pushed" in caplog.text


@pytest.fixture
def _no_mlc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("MLC_") or n == "PORT"]:
        monkeypatch.delenv(name)
    monkeypatch.delenv(metrics_export.MULTIPROC_ENV, raising=False)


@pytest.mark.usefixtures("_no_mlc_environment")
class TestGunicornMultiprocess:
    def test_reading_the_config_changes_no_environment(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("MLC_WORKER_TMP_DIR", str(tmp_path))
        config = gunicorn_config("svc", default_port=8081)
        (setting,) = config["raw_env"]
        name, _, path = setting.partition("=")
        assert name == "PROMETHEUS_MULTIPROC_DIR"
        assert path == str(tmp_path / f"mlc-metrics-svc-{os.getpid()}")
        assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
        assert callable(config["on_starting"])
        assert callable(config["child_exit"])

    def test_an_operator_directory_is_used_and_kept(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "given"))
        assert metrics_directory("svc", "/tmp") == (str(tmp_path / "given"), False)
        config = gunicorn_config("svc", default_port=8081)
        config["on_starting"](None)
        (tmp_path / "given" / "counter_1.db").write_bytes(b"x")
        config["on_exit"](None)
        assert (tmp_path / "given").is_dir()

    def test_the_master_starts_with_an_empty_directory_and_removes_its_own(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("MLC_WORKER_TMP_DIR", str(tmp_path))
        config = gunicorn_config("svc", default_port=8081)
        path = Path(config["raw_env"][0].partition("=")[2])
        path.mkdir()
        (path / "counter_123.db").write_bytes(b"left by an earlier run")
        (path / "keep.txt").write_text("not ours")
        config["on_starting"](None)
        assert sorted(p.name for p in path.iterdir()) == ["keep.txt"]
        config["on_exit"](None)
        assert not path.exists()

    def test_a_dead_workers_live_gauges_are_dropped(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
        (tmp_path / "counter_4242.db").write_bytes(b"")
        config = gunicorn_config("svc", default_port=8081)
        config["child_exit"](None, type("Worker", (), {"pid": 4242})())
        assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db"]

    def test_no_gunicorn_config_module_imports_prometheus_client(self) -> None:
        """prometheus-client picks its storage when imported: a master that imported it before
        setting PROMETHEUS_MULTIPROC_DIR would hand every worker per-process counters."""
        modules = ["bc_gateway.gunicorn_conf", "stripe_gateway.gunicorn_conf"]
        modules += ["reconciler.gunicorn_conf", "mlconnector.http_worker"]
        code = (
            "import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print('prometheus_client' in sys.modules)\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert result.stdout.strip() == "False", result.stderr
