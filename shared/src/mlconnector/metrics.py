"""Prometheus metrics: every figure the services export, and how each process exposes them.

Why one module: the alert rules and the dashboard in ``deploy/`` may only name figures the code
really exports (``tests/deploy`` holds them to ``exported_names()``), so every metric is declared
here, whichever service fills it, with its unit in its name and a small, bounded label set:
sources, systems, operation families, status classes, queue roles, record kinds and states.
Never an id, an amount or a free-text reason.

Three kinds of figure:

- **Counted as events happen** (webhooks, outbound API calls, consumed messages): counters,
  histograms and gauges declared here as ``EventSpec`` and filled through ``observe_*`` (and
  ``consumer_observer``, the bus consumer's hook). Under gunicorn each worker writes them to its
  own file in ``PROMETHEUS_MULTIPROC_DIR`` and the worker that answers ``/metrics`` merges every
  file (prometheus-client's multiprocess mode; ``mlconnector.serving`` sets the directory, wipes
  it when the master starts and marks each dead worker). Gauges name their
  ``multiprocess_mode``. prometheus-client is imported, and the instruments made, on first use:
  the library picks its storage when imported, and a gunicorn master imports the services'
  packages before it sets that directory for its workers.
- **Computed when Prometheus asks** (records by state, queue depth, BC subscription expiry):
  ``ScrapeTimeCollector`` subclasses, given to ``install_metrics`` or ``start_exporter``. They
  run only in the process answering the scrape, never go to the multiprocess files, are cached
  for a few seconds, and are bounded in time: a database or broker that does not answer turns
  into ``mlc_scrape_error{collector=...} 1``, never into a failed scrape.
- **Pushed by jobs that exit** (the CronJobs' polls): ``record_poll_success`` pushes to the
  Pushgateway named by ``MLC_METRICS_PUSHGATEWAY``, the one use Prometheus documents for it.

``/metrics`` is served by the ``metrics`` blueprint of each web app, and by ``start_exporter``
in processes without one (the reconciler's consumer, on ``MLC_METRICS_PORT``). What it reveals
is aggregates only; docs/operations.md lists every metric and docs/security.md who may read it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request

from mlconnector.config import EnvReader
from mlconnector.config import bounded_int

if TYPE_CHECKING:
    # Types only: prometheus_client itself is imported on first use (module docstring).
    from prometheus_client import Counter
    from prometheus_client import Gauge
    from prometheus_client import Histogram
    from prometheus_client.metrics_core import GaugeMetricFamily
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

BLUEPRINT = "metrics"
PATH = "/metrics"
EXTENSION = "mlconnector.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_EXPORTER_PORT = 9102
POLL_JOB = "ml-connector-poll"

_API_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_HANDLING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_AGE_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0)
_LABEL_VALUE = re.compile(r"[a-z0-9_]{1,40}")
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}

# -- counted as events happen ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """A counter, gauge or histogram filled as events happen (the instrument is made lazily)."""

    kind: str  # counter | gauge | histogram
    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()
    # How gauges from several gunicorn workers merge (prometheus-client's multiprocess_mode).
    multiprocess_mode: str = ""

    def series_names(self) -> tuple[str, ...]:
        """The names its samples carry in the text exposition."""
        return tuple(self.name + suffix for suffix in _SUFFIXES[self.kind])


WEBHOOKS_ACCEPTED = EventSpec(
    "counter",
    "mlc_webhooks_accepted",
    "Webhook requests answered 2xx (queued, acknowledged, or a validation handshake).",
    ("source",),
)
WEBHOOKS_REFUSED = EventSpec(
    "counter",
    "mlc_webhooks_refused",
    "Webhook requests answered 4xx, by reason (signature, client_state, rate_limited, ...).",
    ("source", "reason"),
)
WEBHOOKS_FAILED = EventSpec(
    "counter",
    "mlc_webhooks_failed",
    "Webhook requests answered 5xx: not queued, the sender retries.",
    ("source",),
)
WEBHOOK_LAST_ACCEPTED = EventSpec(
    "gauge",
    "mlc_webhook_last_accepted_timestamp_seconds",
    "Unix time of the last webhook request answered 2xx.",
    ("source",),
    multiprocess_mode="max",
)
API_DURATION = EventSpec(
    "histogram",
    "mlc_api_request_duration_seconds",
    "Outbound HTTP calls (one per attempt) by system, operation family and status class.",
    ("system", "operation", "status"),
    buckets=_API_BUCKETS,
)
API_THROTTLED = EventSpec(
    "counter", "mlc_api_throttled", "Outbound calls answered 429, by system.", ("system",)
)
API_SERVER_ERRORS = EventSpec(
    "counter", "mlc_api_server_errors", "Outbound calls answered 5xx, by system.", ("system",)
)
CONSUMER_MESSAGES = EventSpec(
    "counter",
    "mlc_consumer_messages",
    "Deliveries consumed, and what became of them: acked, retried, waited, dead_lettered, "
    "requeued; duplicate for those already processed.",
    ("queue", "outcome"),
)
CONSUMER_HANDLING = EventSpec(
    "histogram",
    "mlc_consumer_handling_duration_seconds",
    "Time a handler spent on one delivery, by outcome.",
    ("queue", "outcome"),
    buckets=_HANDLING_BUCKETS,
)
CONSUMER_MESSAGE_AGE = EventSpec(
    "histogram",
    "mlc_consumer_message_age_seconds",
    "Age of each message when it was delivered to the consumer (time spent queued).",
    ("queue",),
    buckets=_AGE_BUCKETS,
)
CONSUMER_LAST_AGE = EventSpec(
    "gauge",
    "mlc_consumer_last_message_age_seconds",
    "Age of the message delivered last: the oldest one waiting, as the queue is FIFO.",
    ("queue",),
    multiprocess_mode="mostrecent",
)
EVENT_METRICS = (
    WEBHOOKS_ACCEPTED,
    WEBHOOKS_REFUSED,
    WEBHOOKS_FAILED,
    WEBHOOK_LAST_ACCEPTED,
    API_DURATION,
    API_THROTTLED,
    API_SERVER_ERRORS,
    CONSUMER_MESSAGES,
    CONSUMER_HANDLING,
    CONSUMER_MESSAGE_AGE,
    CONSUMER_LAST_AGE,
)
DELIVERY_OUTCOMES = (
    "consumed",
    "acked",
    "retried",
    "waited",
    "dead_lettered",
    "requeued",
    "duplicate",
)
# ``mlconnector.bus.consumer.Outcome`` values, as its observer hook reports them.
_SETTLED = {
    "ack": "acked",
    "retry": "retried",
    "wait": "waited",
    "dead": "dead_lettered",
    "requeue": "requeued",
}

_instruments: dict[str, Any] = {}
_instruments_lock = threading.Lock()


def _instrument(spec: EventSpec) -> Any:
    """The process's instrument for ``spec``, made (with all the others) on first use."""
    found = _instruments.get(spec.name)
    if found is not None:
        return found
    with _instruments_lock:
        if not _instruments:
            import prometheus_client

            # A `_created` series per counter doubles the series for nothing the alerts use.
            prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
            for each in EVENT_METRICS:
                _instruments[each.name] = _build(each)
        return _instruments[spec.name]


def _build(spec: EventSpec) -> Any:
    import prometheus_client

    labels = list(spec.labels)
    if spec.kind == "counter":
        return prometheus_client.Counter(spec.name, spec.documentation, labels)
    if spec.kind == "histogram":
        return prometheus_client.Histogram(
            spec.name, spec.documentation, labels, buckets=spec.buckets
        )
    mode = spec.multiprocess_mode or "all"
    return prometheus_client.Gauge(
        spec.name,
        spec.documentation,
        labels,
        multiprocess_mode=mode,  # type: ignore[arg-type]  # a Literal in the stubs
    )


def counter(spec: EventSpec) -> Counter:
    """The counter of ``spec``."""
    return cast("Counter", _instrument(spec))


def gauge(spec: EventSpec) -> Gauge:
    """The gauge of ``spec``."""
    return cast("Gauge", _instrument(spec))


def histogram(spec: EventSpec) -> Histogram:
    """The histogram of ``spec``."""
    return cast("Histogram", _instrument(spec))


# -- computed when Prometheus asks, and pushed by jobs ----------------------------------------


@dataclasses.dataclass(frozen=True)
class GaugeSpec:
    """A gauge that is computed, not counted: its name, help and labels, declared once here."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()

    def family(self) -> GaugeMetricFamily:
        """An empty family to ``add_metric`` to."""
        from prometheus_client.metrics_core import GaugeMetricFamily

        return GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))


RECORDS = GaugeSpec("mlc_records", "Sync records by kind and state.", ("kind", "state"))
OLDEST_PENDING = GaugeSpec(
    "mlc_records_oldest_pending_age_seconds",
    "Seconds since the least recently updated pending record of each kind was last updated.",
    ("kind",),
)
DEAD_LETTERS = GaugeSpec("mlc_dead_letters", "Dead-lettered messages kept in the database.")
QUEUE_MESSAGES = GaugeSpec(
    "mlc_queue_messages",
    "Messages ready in a queue (not those delivered and awaiting an ack).",
    ("queue", "role"),
)
QUEUE_CONSUMERS = GaugeSpec("mlc_queue_consumers", "Consumers of a queue.", ("queue", "role"))
BC_SUBSCRIPTION_EXPIRY = GaugeSpec(
    "mlc_bc_subscription_expiry_timestamp_seconds",
    "Unix time at which the connector's BC webhook subscription for an entity set expires.",
    ("entity",),
)
BC_SUBSCRIPTIONS = GaugeSpec(
    "mlc_bc_subscriptions",
    "The connector's BC webhook subscriptions per entity set (0: BC deleted it).",
    ("entity",),
)
SCRAPE_ERROR = GaugeSpec(
    "mlc_scrape_error",
    "1 when a figure computed at scrape time could not be computed (database, broker, BC).",
    ("collector",),
)
POLL_LAST_SUCCESS = GaugeSpec(
    "mlc_poll_last_success_timestamp_seconds",
    "Unix time the last poll of a source finished with every message confirmed (pushed).",
    ("source",),
)
COMPUTED_GAUGES = (
    RECORDS,
    OLDEST_PENDING,
    DEAD_LETTERS,
    QUEUE_MESSAGES,
    QUEUE_CONSUMERS,
    BC_SUBSCRIPTION_EXPIRY,
    BC_SUBSCRIPTIONS,
    SCRAPE_ERROR,
    POLL_LAST_SUCCESS,
)


def exported_names() -> set[str]:
    """Every series name a scrape of any service (or the Pushgateway) can show."""
    names = {spec.name for spec in COMPUTED_GAUGES}
    for spec in EVENT_METRICS:
        names.update(spec.series_names())
    return names


# -- observing -------------------------------------------------------------------------------


def status_class(status: int | None) -> str:
    """``2xx``..``5xx``, ``429`` on its own, ``error`` when no answer came back."""
    if status is None:
        return "error"
    if status == 429:
        return "429"
    return f"{status // 100}xx" if 100 <= status < 600 else "error"


def observe_api_call(system: str, operation: str, status: int | None, seconds: float) -> None:
    """One outbound HTTP attempt: ``status`` None when it failed before an answer."""
    histogram(API_DURATION).labels(system, operation, status_class(status)).observe(
        max(0.0, seconds)
    )
    if status == 429:
        counter(API_THROTTLED).labels(system).inc()
    elif status is not None and 500 <= status < 600:
        counter(API_SERVER_ERRORS).labels(system).inc()


def observe_delivery(queue: str, outcome: str) -> None:
    """A delivery of ``queue`` was consumed, acked, retried, dead-lettered or a duplicate."""
    if outcome not in DELIVERY_OUTCOMES:
        raise ValueError(f"unknown delivery outcome {outcome!r}")
    counter(CONSUMER_MESSAGES).labels(queue, outcome).inc()


def consumer_observer(queue: str, outcome: str, delivery: Any, seconds: float) -> None:
    """``ConsumerRunner(observer=...)``: one delivery of ``queue`` settled with ``outcome``.

    Counts it as consumed and as what became of it (an unknown outcome is not guessed: it
    raises, and the runner logs it without stopping), how long it took from arrival to verdict
    (waiting for a free worker included), and how old it was when it arrived, from the
    publisher's timestamp (retry copies carry none and are not counted there).
    """
    settled = _SETTLED.get(outcome)
    if settled is None:
        raise ValueError(f"unknown consumer outcome {outcome!r}")
    observe_delivery(queue, "consumed")
    observe_delivery(queue, settled)
    observe_handling(queue, outcome, seconds)
    published = getattr(delivery, "published_at", None)
    if isinstance(published, int):
        observe_message_age(queue, time.time() - published - seconds)


def observe_handling(queue: str, outcome: str, seconds: float) -> None:
    """How long the handler took with one delivery that ended with ``outcome``."""
    histogram(CONSUMER_HANDLING).labels(queue, outcome).observe(max(0.0, seconds))


def observe_message_age(queue: str, seconds: float) -> None:
    """How long the message delivered now had waited since it was published or received."""
    age = max(0.0, seconds)
    histogram(CONSUMER_MESSAGE_AGE).labels(queue).observe(age)
    gauge(CONSUMER_LAST_AGE).labels(queue).set(age)


def label_value(raw: str | None, default: str = "other") -> str:
    """``raw`` if it is a short ``[a-z0-9_]`` token, else ``default``: labels stay bounded."""
    value = (raw or "").strip().lower()
    return value if _LABEL_VALUE.fullmatch(value) else default


def observe_webhook(source: str, status: int, reason: str | None = None) -> None:
    """One answered webhook request: 2xx accepted, 4xx refused for ``reason``, 5xx failed."""
    if 200 <= status < 300:
        counter(WEBHOOKS_ACCEPTED).labels(source).inc()
        gauge(WEBHOOK_LAST_ACCEPTED).labels(source).set(time.time())
    elif 400 <= status < 500:
        counter(WEBHOOKS_REFUSED).labels(source, label_value(reason)).inc()
    elif status >= 500:
        counter(WEBHOOKS_FAILED).labels(source).inc()


# -- computed at scrape time -------------------------------------------------------------------


class ScrapeTimeCollector:
    """A figure computed from a database, a broker or an API when Prometheus asks, cached.

    Subclasses implement ``compute``. A result is reused for ``ttl_s`` seconds. By default the
    scrape waits for a fresh one at most ``timeout_s`` seconds; past that, or on any error, the
    collector yields nothing and ``mlc_scrape_error`` says so (the computation may finish for the
    next scrape; a second one never starts while the first still runs). With ``background`` the
    scrape never waits: it serves the last result (kept through later failures, which is right
    for facts such as an expiry time) and refreshes it in a thread once it is stale.
    """

    def __init__(
        self,
        name: str,
        *,
        ttl_s: float = 5.0,
        timeout_s: float = 2.0,
        background: bool = False,
    ) -> None:
        self.name = label_value(name, "collector")
        self._ttl = ttl_s
        self._timeout = timeout_s
        self._background = background
        self._lock = threading.Lock()
        self._families: list[Metric] = []
        self._ok = True
        self._computed_at: float | None = None
        self._worker: threading.Thread | None = None

    def compute(self) -> list[Metric]:
        """The figures, as metric families (raise on failure)."""
        raise NotImplementedError

    def snapshot(self) -> tuple[list[Metric], bool]:
        """(families to export, whether the last computation succeeded)."""
        with self._lock:
            fresh = (
                self._computed_at is not None and time.monotonic() - self._computed_at < self._ttl
            )
            if fresh:
                return list(self._families), self._ok
            worker = self._worker
            if worker is None or not worker.is_alive():
                worker = threading.Thread(
                    target=self._refresh, name=f"metrics-{self.name}", daemon=True
                )
                self._worker = worker
                worker.start()
        if not self._background:
            worker.join(self._timeout)
            if worker.is_alive():
                with self._lock:
                    if self._ok:
                        logger.warning(
                            "metrics: %s took over %gs; reported as an error",
                            self.name,
                            self._timeout,
                        )
                    self._ok = False
                return [], False
        with self._lock:
            return list(self._families), self._ok

    def _refresh(self) -> None:
        try:
            families = self.compute()
        except Exception as exc:  # any failure is reported as mlc_scrape_error, never raised
            with self._lock:
                if self._ok:
                    logger.warning("metrics: cannot compute %s: %r", self.name, exc)
                self._ok = False
                if not self._background:
                    self._families = []
                self._computed_at = time.monotonic()
            return
        with self._lock:
            if not self._ok:
                logger.info("metrics: %s computed again", self.name)
            self._families, self._ok = families, True
            self._computed_at = time.monotonic()


# -- exposition ------------------------------------------------------------------------------


def multiprocess_active() -> bool:
    """True in a gunicorn worker whose metrics go to ``PROMETHEUS_MULTIPROC_DIR``."""
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


def _event_source() -> Collector:
    """This process's counters, or every worker's merged from the multiprocess files."""
    import prometheus_client
    from prometheus_client import multiprocess

    _instrument(WEBHOOKS_ACCEPTED)  # every instrument exists, so every family is listed
    if multiprocess_active():
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return prometheus_client.REGISTRY


class Scrape:
    """One exposition: the event metrics, then each scrape-time collector, then their errors."""

    def __init__(self, collectors: Sequence[ScrapeTimeCollector] = ()) -> None:
        self._collectors = tuple(collectors)

    def collect(self) -> Iterator[Metric]:
        yield from _event_source().collect()
        if not self._collectors:
            return
        errors = SCRAPE_ERROR.family()
        for collector in self._collectors:
            families, ok = collector.snapshot()
            yield from families
            errors.add_metric([collector.name], 0.0 if ok else 1.0)
        yield errors


def render(collectors: Sequence[ScrapeTimeCollector], accept: str | None) -> tuple[bytes, str]:
    """The exposition body and its content type (text format, or OpenMetrics if asked)."""
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(accept or "")
    return encoder(Scrape(collectors)), content_type


@dataclasses.dataclass
class _AppMetrics:
    collectors: tuple[ScrapeTimeCollector, ...]
    webhooks: Mapping[str, str]


def _metrics_view() -> Response:
    state: _AppMetrics = current_app.extensions[EXTENSION]
    body, content_type = render(state.collectors, request.headers.get("Accept"))
    response = Response(body, status=200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def install_metrics(
    app: Flask,
    *,
    webhooks: Mapping[str, str] | None = None,
    collectors: Iterable[ScrapeTimeCollector] = (),
) -> None:
    """``GET /metrics`` on ``app``, and webhook counting for the paths in ``webhooks``.

    ``webhooks`` maps each webhook path to its source (``{"/webhooks/stripe": "stripe"}``);
    every answer on those paths is counted, whoever gave it (the view, the rate limiter, a
    guard, werkzeug's 413), with the reason the refuser named through
    ``mlconnector.web.note_refusal(..., kind=...)``, else the answer's error code. Who may read
    ``/metrics`` is the app's guard's decision (``mlconnector.service_auth``).
    """
    watched = {path.rstrip("/"): source for path, source in (webhooks or {}).items()}
    app.extensions[EXTENSION] = _AppMetrics(tuple(collectors), watched)
    if os.environ.get(MULTIPROC_ENV) and not multiprocess_active():
        logger.error(
            "%s is set but prometheus_client was imported before it: this worker's counts "
            "will be missing from /metrics",
            MULTIPROC_ENV,
        )
    bp = Blueprint(BLUEPRINT, __name__)
    bp.add_url_rule(PATH, "metrics", _metrics_view, methods=["GET"])
    app.register_blueprint(bp)
    for source in set(watched.values()):
        counter(WEBHOOKS_ACCEPTED).labels(source)  # a 0 series from the start, for increase()
        counter(WEBHOOKS_FAILED).labels(source)
    if not watched:
        return

    @app.after_request
    def _count_webhook(response: Response) -> Response:
        source = watched.get(request.path.rstrip("/"))
        if source is not None:
            reason = g.get("refusal_kind") or _error_code(response)
            observe_webhook(source, response.status_code, reason)
        return response


def _error_code(response: Response) -> str | None:
    if not response.is_json:
        return None
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


# -- processes without a web app -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExporterSettings:
    """Where ``start_exporter`` listens: ``MLC_METRICS_PORT`` (0 = any free port) on the
    service's bind host (``MLC_BIND_HOST``, loopback unless the image says 0.0.0.0)."""

    port: int = DEFAULT_EXPORTER_PORT
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExporterSettings:
        env = EnvReader(environ)
        settings = cls(
            port=env("METRICS_PORT", bounded_int(0, 65535), DEFAULT_EXPORTER_PORT),
            host=env("BIND_HOST", default="127.0.0.1"),
        )
        env.finish()
        return settings


def start_exporter(
    settings: ExporterSettings, collectors: Sequence[ScrapeTimeCollector] = ()
) -> int | None:
    """Serve the metrics over HTTP from a daemon thread; return the bound port.

    A port already taken is logged and ignored (None): metrics must never stop the process.
    """
    import prometheus_client

    try:
        server, _thread = prometheus_client.start_http_server(
            settings.port, addr=settings.host, registry=Scrape(collectors)
        )
    except OSError as exc:
        logger.warning(
            "metrics exporter not started on %s:%d: %s", settings.host, settings.port, exc
        )
        return None
    port = int(server.server_port)
    logger.info("metrics on http://%s:%d/metrics", settings.host, port)
    return port


# -- jobs that exit --------------------------------------------------------------------------------


def _pushgateway(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http(s):// URL")
    return raw.rstrip("/")


def _namespace(raw: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", raw):
        raise ValueError("expected a Kubernetes namespace name")
    return raw


class _Fixed:
    """A collector of families computed beforehand (what a job pushes)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return list(self._families)


def record_poll_success(
    source: str, *, environ: Mapping[str, str] | None = None, timeout_s: float = 5.0
) -> bool:
    """Push "the poll of ``source`` just succeeded" to ``MLC_METRICS_PUSHGATEWAY``, if set.

    The group is (job ``ml-connector-poll``, source, and the Kubernetes namespace from
    ``MLC_METRICS_NAMESPACE`` when set, so that two environments sharing a Pushgateway keep
    apart): each run replaces the last, so the Pushgateway holds one timestamp per source. A
    failed push is a WARNING, never a failed job. Returns whether a push was made.
    """
    env = EnvReader(environ)
    url = env.optional("METRICS_PUSHGATEWAY", _pushgateway)
    namespace = env.optional("METRICS_NAMESPACE", _namespace)
    if env.problems or url is None:
        if env.problems:
            logger.warning("poll success not pushed: %s", "; ".join(env.problems))
        return False
    grouping = {"source": source}
    if namespace:
        grouping["namespace"] = namespace
    import prometheus_client

    family = POLL_LAST_SUCCESS.family()
    family.add_metric([source], time.time())
    try:
        prometheus_client.push_to_gateway(
            url,
            job=POLL_JOB,
            grouping_key=grouping,
            registry=_Fixed([family]),
            timeout=timeout_s,
        )
    except OSError as exc:
        logger.warning("poll success not pushed to the Pushgateway: %r", exc)
        return False
    return True
