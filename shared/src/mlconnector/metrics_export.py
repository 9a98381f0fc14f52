"""Serving the metrics: figures computed at scrape time, ``/metrics``, and the exporter.

What a scrape shows is the event counts of ``mlconnector.metrics`` (under gunicorn, every
worker's merged from the files in ``PROMETHEUS_MULTIPROC_DIR``), then the figures computed when
Prometheus asks (records by state, queue depth, BC subscription expiry): ``ScrapeTimeCollector``
subclasses, given to ``install_metrics`` or ``start_exporter``. They run only in the process
answering the scrape, never go to the multiprocess files, are cached for a few seconds, and are
bounded in time: a database or broker that does not answer turns into
``mlc_scrape_error{collector=...} 1``, never into a failed scrape.

``/metrics`` is served by the ``metrics`` blueprint of each web app (``install_metrics``, which
also counts the answers on its webhook paths), and by ``start_exporter`` in processes without
one (the reconciler's consumer, on ``MLC_METRICS_PORT``). What it reveals is aggregates only;
docs/operations.md lists every metric and docs/security.md who may read it.

prometheus-client is imported on first use, never when this module is: the library picks its
storage when imported, and a gunicorn master imports the services' packages (and so this
module) before it sets ``PROMETHEUS_MULTIPROC_DIR`` for its workers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request

from mlconnector.config import EnvReader
from mlconnector.config import bounded_int
from mlconnector.metrics import SCRAPE_ERROR
from mlconnector.metrics import WEBHOOKS_ACCEPTED
from mlconnector.metrics import WEBHOOKS_FAILED
from mlconnector.metrics import counter
from mlconnector.metrics import label_value
from mlconnector.metrics import observe_webhook

if TYPE_CHECKING:
    # Types only: prometheus_client itself is imported on first use (module docstring).
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

BLUEPRINT = "metrics"
PATH = "/metrics"
EXTENSION = "mlconnector.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_EXPORTER_PORT = 9102

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

    counter(WEBHOOKS_ACCEPTED)  # every instrument exists, so every family is listed
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
