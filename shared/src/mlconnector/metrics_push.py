"""Metrics of jobs that exit: the CronJobs' polls push their last success to a Pushgateway.

A job that exits is gone before Prometheus could scrape it, the one use Prometheus documents for
the Pushgateway. ``record_poll_success`` pushes ``mlc_poll_last_success_timestamp_seconds``
(declared with every other figure in ``mlconnector.metrics``) to the Pushgateway named by
``MLC_METRICS_PUSHGATEWAY``; without one, nothing is pushed.

prometheus-client is imported on first use, never when this module is: the library picks its
storage when imported, and a gunicorn master imports the services' packages before it sets
``PROMETHEUS_MULTIPROC_DIR`` for its workers (``mlconnector.metrics``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlconnector.config import EnvReader
from mlconnector.metrics import POLL_LAST_SUCCESS

if TYPE_CHECKING:
    # Types only: prometheus_client itself is imported on first use (module docstring).
    from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)

POLL_JOB = "ml-connector-poll"


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
