"""JSON logs with a correlation id, and a redaction net so secrets never reach a log line.

Every service calls ``configure_logging`` once in its entry point. Records are rendered as one JSON
object per line carrying the service name and the correlation id bound for the current request or
message (a ``contextvars`` variable, so threads and requests never see each other's id). The
message, the traceback and every extra pass through ``mlconnector.redaction`` before the line is
encoded, so even a secret that slipped into an exception message or a third-party library's debug
output is masked, in its real (not JSON-escaped) form and without breaking the JSON.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from mlconnector.redaction import redact
from mlconnector.redaction import redact_data

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mlc_correlation_id", default=None
)

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


def new_correlation_id() -> str:
    """A fresh random id for work that did not arrive with one."""
    return uuid.uuid4().hex


def get_correlation_id() -> str | None:
    """The id bound to the current context, if any."""
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token[str | None]:
    """Bind ``value`` for the current context; keep the token to reset it afterwards."""
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token[str | None]) -> None:
    """Undo a ``set_correlation_id``."""
    _correlation_id.reset(token)


@contextlib.contextmanager
def correlation_scope(value: str | None = None) -> Iterator[str]:
    """Bind a correlation id (a new one when ``value`` is empty) for the duration of a block."""
    cid = value or new_correlation_id()
    token = _correlation_id.set(cid)
    try:
        yield cid
    finally:
        _correlation_id.reset(token)


# Renders tracebacks for the filter; any formatter reuses the cached, redacted ``exc_text``.
_TRACEBACK_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Masks secrets in the formatted message and traceback of every record that passes a handler.

    The message is rendered once with its arguments and replaced by the redacted text, so a
    formatter later in the chain (ours or gunicorn's) can never re-insert a raw argument. The
    traceback is rendered into ``exc_text``, which standard formatters use instead of rendering it
    again, so plain-text handlers cannot print a raw exception message either.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not lose the record
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, service, correlation id, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        cid = _correlation_id.get()
        if cid:
            payload["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        # Redact field by field, not the encoded line: see ``redact_data``.
        return json.dumps(redact_data(payload), ensure_ascii=False)


def configure_logging(service: str, level: str | int = "INFO", *, json_lines: bool = True) -> None:
    """Route every logger through one stderr handler with redaction, replacing earlier handlers.

    Idempotent: calling it again (tests, gunicorn post-fork hooks) replaces the handler instead of
    duplicating lines.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The stripe SDK logs whole request and response bodies at debug (reliability.md §6.4);
    # customer and payment data has no place in our logs even when we debug ourselves.
    logging.getLogger("stripe").setLevel(max(logging.INFO, root.level))
    # pika at debug prints every frame; keep it useful but quiet.
    logging.getLogger("pika").setLevel(max(logging.WARNING, root.level))
    # Flask-Limiter logs every 429 at INFO; mlconnector.ratelimit logs one WARNING per breach.
    logging.getLogger("flask-limiter").setLevel(max(logging.WARNING, root.level))


def gunicorn_logconfig(service: str, level: str | int = "INFO") -> dict[str, Any]:
    """A ``logconfig_dict`` for gunicorn so its own error and access logs are JSON and redacted.

    Access lines and the Stripe SDK's request lines are INFO records: a service configured
    for WARNING and above writes neither (they cost a JSON line per request), and the SDK never
    logs below INFO, where it would print request details.
    """
    at_least_info = logging.getLevelName(max(logging.INFO, _level_number(level)))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "mlconnector.logging.RedactingFilter"}},
        "formatters": {"json": {"()": "mlconnector.logging.JsonFormatter", "service": service}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact"],
                "formatter": "json",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {
                "level": at_least_info,
                "handlers": ["stderr"],
                "propagate": False,
            },
            "stripe": {"level": at_least_info},
            "pika": {"level": "WARNING"},
            "flask-limiter": {"level": "WARNING"},
        },
    }


def _level_number(level: str | int) -> int:
    """``"WARNING"`` -> 30; numbers pass through; an unknown name is an error."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number
