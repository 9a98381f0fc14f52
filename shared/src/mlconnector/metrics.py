"""Prometheus metrics: every figure the services export, declared once, and the event counts.

Why one module for the declarations: the alert rules and the dashboard in ``deploy/`` may only
name figures the code really exports (``tests/deploy`` holds them to ``exported_names()``), so
every metric is declared here, whichever service fills it, with its unit in its name and a
small, bounded label set: sources, systems, operation families, status classes, queue roles,
record kinds and states. Never an id, an amount or a free-text reason.

Three kinds of figure:

- **Counted as events happen** (webhooks, outbound API calls, consumed messages): counters,
  histograms and gauges declared here as ``EventSpec`` and filled through ``observe_*`` (and
  ``consumer_observer``, the bus consumer's hook). Under gunicorn each worker writes them to its
  own file in ``PROMETHEUS_MULTIPROC_DIR`` and the worker that answers ``/metrics`` merges every
  file (prometheus-client's multiprocess mode; ``mlconnector.serving`` sets the directory, wipes
  it when the master starts and marks each dead worker). Gauges name their
  ``multiprocess_mode``.
- **Computed when Prometheus asks** (records by state, queue depth, BC subscription expiry):
  declared here as ``GaugeSpec``, computed by ``ScrapeTimeCollector`` subclasses
  (``mlconnector.metrics_export``, which also serves ``/metrics``).
- **Pushed by jobs that exit** (the CronJobs' polls): ``POLL_LAST_SUCCESS``, pushed to the
  Pushgateway by ``mlconnector.metrics_push``.

prometheus-client is imported, and the instruments made, on first use: the library picks its
storage when imported, and a gunicorn master imports the services' packages before it sets that
directory for its workers. ``metrics_export`` and ``metrics_push`` import it lazily too.
docs/operations.md lists every metric.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

if TYPE_CHECKING:
    # Types only: prometheus_client itself is imported on first use (module docstring).
    from prometheus_client import Counter
    from prometheus_client import Gauge
    from prometheus_client import Histogram
    from prometheus_client.metrics_core import GaugeMetricFamily

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


# -- computed when Prometheus asks, and pushed by jobs (declared here only) -------------------


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
CLEARING_DRIFT = GaugeSpec(
    "mlc_clearing_drift",
    "Unexplained difference between a clearing account in BC and Stripe, in the currency's "
    "units, at the last drift check (0: all of it explained).",
    ("currency",),
)
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
    CLEARING_DRIFT,
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
