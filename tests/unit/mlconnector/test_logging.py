"""Tests for mlconnector.logging: JSON lines, correlation ids and the redaction net."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import logging.config
import threading
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import pytest

from mlconnector.logging import JsonFormatter
from mlconnector.logging import RedactingFilter
from mlconnector.logging import configure_logging
from mlconnector.logging import correlation_scope
from mlconnector.logging import get_correlation_id
from mlconnector.logging import gunicorn_logconfig
from mlconnector.logging import new_correlation_id
from mlconnector.logging import reset_correlation_id
from mlconnector.logging import set_correlation_id
from mlconnector.redaction import MASK
from mlconnector.redaction import forget_registered_secrets
from mlconnector.redaction import register_secret

STORE_SECRET = "store-secret-Xy7-value"
STRIPE_KEY = "sk_test_51HabcDEFghi789"

# Loggers the module (or the gunicorn config) reconfigures; their state is restored after a test.
_TOUCHED_LOGGERS = ("stripe", "pika", "gunicorn.error", "gunicorn.access")


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    forget_registered_secrets()
    yield
    forget_registered_secrets()


@contextlib.contextmanager
def _root_logging_restored() -> Iterator[logging.Logger]:
    """Let a block reconfigure logging, then put back exactly what was there before.

    The restore has to happen inside the test body: pytest swaps its own capture handlers on the
    root logger for each phase, so a fixture teardown would re-attach stale call-phase handlers.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name in _TOUCHED_LOGGERS
        for lg in [logging.getLogger(name)]
    }
    try:
        yield root
    finally:
        for handler in root.handlers[:]:
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
        for name, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(name)
            for handler in lg.handlers[:]:
                if handler not in handlers:
                    lg.removeHandler(handler)
                    handler.close()
            lg.setLevel(level)
            lg.propagate = propagate


@pytest.fixture
def restored_logging() -> Callable[[], AbstractContextManager[logging.Logger]]:
    """A context manager that undoes configure_logging / dictConfig before the test ends."""
    return _root_logging_restored


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger wired like configure_logging's handler, writing to a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter("test-svc"))
    logger = logging.getLogger(f"mlc.test.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, buffer
    logger.removeHandler(handler)
    handler.close()


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    text = buffer.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _record(msg: str, *args: object, **kwargs: Any) -> logging.LogRecord:
    return logging.getLogger("mlc.test.records").makeRecord(
        "mlc.test.records", logging.INFO, __file__, 1, msg, args, None, **kwargs
    )


class TestJsonFormatter:
    def test_writes_one_json_object_per_line_with_the_standard_fields(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        logger.info("first")
        logger.warning("second")
        first, second = _lines(buffer)
        assert set(first) == {"ts", "level", "logger", "service", "message"}
        assert first["level"] == "INFO"
        assert first["logger"] == logger.name
        assert first["service"] == "test-svc"
        assert first["message"] == "first"
        assert second["level"] == "WARNING"

    def test_the_timestamp_is_utc_iso_8601_with_milliseconds(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        logger.info("tick")
        ts = _lines(buffer)[0]["ts"]
        parsed = dt.datetime.fromisoformat(ts)
        assert parsed.utcoffset() == dt.timedelta(0)
        assert len(ts.split(".")[1]) == len("123+00:00")
        assert before <= parsed <= dt.datetime.now(dt.UTC)

    def test_renders_percent_arguments(self, capture: tuple[logging.Logger, io.StringIO]) -> None:
        logger, buffer = capture
        logger.info("invoice %s paid %d times", "103001", 2)
        assert _lines(buffer)[0]["message"] == "invoice 103001 paid 2 times"

    def test_a_multi_line_message_stays_on_one_line(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        logger.info("line one\nline two")
        (line,) = _lines(buffer)
        assert line["message"] == "line one\nline two"

    def test_includes_the_bound_correlation_id(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        with correlation_scope("req-42"):
            logger.info("inside")
        logger.info("outside")
        inside, outside = _lines(buffer)
        assert inside["correlation_id"] == "req-42"
        assert "correlation_id" not in outside

    def test_includes_extras_and_renders_unusual_types_as_text(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        logger.info("posted", extra={"invoice": "103001", "attempt": 2, "amount": Decimal("12.50")})
        line = _lines(buffer)[0]
        assert line["invoice"] == "103001"
        assert line["attempt"] == 2
        assert line["amount"] == "12.50"

    def test_redacts_secrets_in_extras(self, capture: tuple[logging.Logger, io.StringIO]) -> None:
        register_secret(STORE_SECRET)
        logger, buffer = capture
        logger.info("calling", extra={"url": "amqp://u:pw@h/", "cfg": {"key": STORE_SECRET}})
        text = buffer.getvalue()
        assert STORE_SECRET not in text
        line = json.loads(text)
        assert line["url"] == "amqp://u:[REDACTED]@h/"
        assert line["cfg"] == {"key": MASK}

    def test_includes_the_exception_with_its_secrets_redacted(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        register_secret(STORE_SECRET)
        logger, buffer = capture
        try:
            raise RuntimeError(f"vault said {STORE_SECRET} and stripe said {STRIPE_KEY}")
        except RuntimeError:
            logger.exception("call failed")
        text = buffer.getvalue()
        assert STORE_SECRET not in text
        assert STRIPE_KEY not in text
        line = json.loads(text)
        assert line["level"] == "ERROR"
        assert line["message"] == "call failed"
        assert line["exception"].startswith("Traceback (most recent call last):")
        assert f"RuntimeError: vault said {MASK} and stripe said {MASK}" in line["exception"]

    def test_a_json_body_in_an_exception_is_redacted_and_the_line_stays_json(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        try:
            raise ValueError('rejected body {"password": "hunter2 spaced", "user": "bob"}')
        except ValueError:
            logger.exception("bad request")
        text = buffer.getvalue()
        assert "hunter2" not in text
        line = json.loads(text)
        assert '{"password": "[REDACTED]", "user": "bob"}' in line["exception"]

    def test_a_registered_secret_with_quotes_is_masked_despite_json_escaping(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        secret = 'pa"ss\\word-42'
        register_secret(secret)
        logger, buffer = capture
        logger.info("value %s end", secret)
        try:
            raise RuntimeError(f"lookup of {secret} failed")
        except RuntimeError:
            logger.exception("lookup failed")
        first, second = _lines(buffer)
        assert first["message"] == f"value {MASK} end"
        assert second["exception"].endswith(f"RuntimeError: lookup of {MASK} failed")

    def test_a_quoted_password_in_the_message_keeps_the_line_valid_json(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        logger.info('login password="two words" user="bob"')
        assert _lines(buffer)[0]["message"] == 'login password="[REDACTED]" user="bob"'

    def test_includes_the_stack_when_asked(
        self, capture: tuple[logging.Logger, io.StringIO]
    ) -> None:
        logger, buffer = capture
        logger.info("where am I", stack_info=True)
        assert _lines(buffer)[0]["stack"].startswith("Stack (most recent call last):")

    def test_formats_a_record_directly(self) -> None:
        register_secret(STORE_SECRET)
        record = _record("direct %s", STORE_SECRET)
        line = json.loads(JsonFormatter("svc-x").format(record))
        assert line["message"] == f"direct {MASK}"
        assert line["service"] == "svc-x"


class TestCorrelationIds:
    def test_a_new_id_is_32_hex_characters_and_unique(self) -> None:
        ids = {new_correlation_id() for _ in range(100)}
        assert len(ids) == 100
        assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)

    def test_nothing_is_bound_by_default(self) -> None:
        assert get_correlation_id() is None

    def test_set_binds_and_reset_restores(self) -> None:
        token = set_correlation_id("outer")
        try:
            assert get_correlation_id() == "outer"
            inner = set_correlation_id("inner")
            assert get_correlation_id() == "inner"
            reset_correlation_id(inner)
            assert get_correlation_id() == "outer"
        finally:
            reset_correlation_id(token)
        assert get_correlation_id() is None

    def test_scope_binds_the_given_id(self) -> None:
        with correlation_scope("msg-7") as cid:
            assert cid == "msg-7"
            assert get_correlation_id() == "msg-7"
        assert get_correlation_id() is None

    @pytest.mark.parametrize("value", [None, ""])
    def test_scope_without_an_id_makes_a_new_one(self, value: str | None) -> None:
        with correlation_scope(value) as cid:
            assert len(cid) == 32
            assert get_correlation_id() == cid

    def test_nested_scopes_restore_the_outer_id(self) -> None:
        with correlation_scope("outer"):
            with correlation_scope("inner"):
                assert get_correlation_id() == "inner"
            assert get_correlation_id() == "outer"

    def test_scope_unbinds_even_when_the_block_raises(self) -> None:
        with pytest.raises(RuntimeError), correlation_scope("failing"):
            raise RuntimeError("boom")
        assert get_correlation_id() is None

    def test_another_thread_does_not_see_this_threads_id(self) -> None:
        seen: list[str | None] = []
        with correlation_scope("main-thread"):
            thread = threading.Thread(target=lambda: seen.append(get_correlation_id()))
            thread.start()
            thread.join()
        assert seen == [None]


class TestRedactingFilter:
    def test_masks_secrets_in_percent_arguments_and_drops_the_arguments(self) -> None:
        record = _record("using %s for %s", STRIPE_KEY, "customer cus_1")
        assert RedactingFilter().filter(record) is True
        assert record.msg == f"using {MASK} for customer cus_1"
        assert record.args is None
        assert record.getMessage() == f"using {MASK} for customer cus_1"

    def test_masks_registered_values_in_the_message(self) -> None:
        register_secret(STORE_SECRET)
        record = _record(f"read {STORE_SECRET}")
        RedactingFilter().filter(record)
        assert record.getMessage() == f"read {MASK}"

    def test_renders_mapping_arguments_as_gunicorn_access_logs_use_them(self) -> None:
        record = _record("%(r)s %(s)s", {"r": "GET /cb?client_secret=abc123", "s": "200"})
        RedactingFilter().filter(record)
        assert record.getMessage() == f"GET /cb?client_secret={MASK} 200"

    def test_a_broken_format_keeps_the_record(self) -> None:
        record = _record("count %d", "not-a-number")
        assert RedactingFilter().filter(record) is True
        assert "unformattable arguments" in record.getMessage()
        assert "count %d" in record.getMessage()

    def test_redacts_the_traceback_for_any_formatter(self) -> None:
        register_secret(STORE_SECRET)
        try:
            raise RuntimeError(f"leak {STORE_SECRET} {STRIPE_KEY}")
        except RuntimeError as exc:
            record = logging.getLogger("t").makeRecord(
                "t", logging.ERROR, __file__, 1, "failed", None, (RuntimeError, exc, None)
            )
        RedactingFilter().filter(record)
        text = logging.Formatter("%(levelname)s %(message)s").format(record)
        assert STORE_SECRET not in text
        assert STRIPE_KEY not in text
        assert f"RuntimeError: leak {MASK} {MASK}" in text

    def test_redacts_the_stack(self) -> None:
        record = _record("here")
        record.stack_info = f"Stack:\n  token={STRIPE_KEY}"
        RedactingFilter().filter(record)
        assert record.stack_info == f"Stack:\n  token={MASK}"


class TestConfigureLogging:
    def test_calling_twice_leaves_exactly_one_handler(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        with restored_logging() as root:
            configure_logging("svc-a")
            configure_logging("svc-b")
            assert len(root.handlers) == 1
            (handler,) = root.handlers
            assert isinstance(handler.formatter, JsonFormatter)
            assert handler.formatter.service == "svc-b"
            assert any(isinstance(f, RedactingFilter) for f in handler.filters)

    def test_sets_the_root_level(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        with restored_logging() as root:
            configure_logging("svc", "WARNING")
            assert root.level == logging.WARNING
            configure_logging("svc", logging.DEBUG)
            assert root.level == logging.DEBUG

    def test_keeps_stripe_at_info_and_pika_at_warning_even_at_debug(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        with restored_logging():
            configure_logging("svc", "DEBUG")
            assert logging.getLogger("stripe").level == logging.INFO
            assert logging.getLogger("pika").level == logging.WARNING
            assert not logging.getLogger("stripe").isEnabledFor(logging.DEBUG)

    def test_a_stricter_root_level_also_applies_to_stripe(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        with restored_logging():
            configure_logging("svc", "ERROR")
            assert logging.getLogger("stripe").level == logging.ERROR
            assert logging.getLogger("pika").level == logging.ERROR

    def test_writes_redacted_json_lines_for_every_logger(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        register_secret(STORE_SECRET)
        buffer = io.StringIO()
        with restored_logging() as root:
            configure_logging("svc-json", "DEBUG")
            handler = root.handlers[0]
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(buffer)
            with correlation_scope("cid-1"):
                logging.getLogger("mlc.some.module").debug("secret %s", STORE_SECRET)
            logging.getLogger("stripe").debug("request body with card data")
            logging.getLogger("stripe").info("stripe info line")
        first, second = _lines(buffer)
        assert first == {
            "ts": first["ts"],
            "level": "DEBUG",
            "logger": "mlc.some.module",
            "service": "svc-json",
            "message": f"secret {MASK}",
            "correlation_id": "cid-1",
        }
        assert second["message"] == "stripe info line"

    def test_plain_text_lines_are_redacted_tracebacks_included(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        register_secret(STORE_SECRET)
        buffer = io.StringIO()
        with restored_logging() as root:
            configure_logging("svc-text", json_lines=False)
            handler = root.handlers[0]
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(buffer)
            try:
                raise RuntimeError(f"boom {STORE_SECRET} {STRIPE_KEY}")
            except RuntimeError:
                logging.getLogger("mlc.text").exception("failed with %s", STRIPE_KEY)
        text = buffer.getvalue()
        assert STORE_SECRET not in text
        assert STRIPE_KEY not in text
        assert f"ERROR mlc.text failed with {MASK}" in text
        assert f"RuntimeError: boom {MASK} {MASK}" in text


class TestGunicornLogconfig:
    def test_is_accepted_by_dict_config_and_its_handler_redacts(
        self, restored_logging: Callable[[], AbstractContextManager[logging.Logger]]
    ) -> None:
        register_secret(STORE_SECRET)
        buffer = io.StringIO()
        with restored_logging():
            logging.config.dictConfig(gunicorn_logconfig("svc-gunicorn", "DEBUG"))
            error_logger = logging.getLogger("gunicorn.error")
            access_logger = logging.getLogger("gunicorn.access")
            (handler,) = error_logger.handlers
            assert access_logger.handlers == [handler]
            assert isinstance(handler, logging.StreamHandler)
            assert isinstance(handler.formatter, JsonFormatter)
            handler.setStream(buffer)
            error_logger.info("worker booted with %s", STORE_SECRET)
            access_logger.info(
                '%(h)s "%(r)s" %(s)s',
                {"h": "127.0.0.1", "r": "GET /cb?client_secret=abc123 HTTP/1.1", "s": "200"},
            )
            assert logging.getLogger("stripe").level == logging.INFO
            assert logging.getLogger("pika").level == logging.WARNING
            assert error_logger.propagate is False
        error_line, access_line = _lines(buffer)
        assert error_line["service"] == "svc-gunicorn"
        assert error_line["logger"] == "gunicorn.error"
        assert error_line["message"] == f"worker booted with {MASK}"
        assert access_line["message"] == f'127.0.0.1 "GET /cb?client_secret={MASK} HTTP/1.1" 200'

    def test_names_the_level_for_root_and_the_error_log(self) -> None:
        config = gunicorn_logconfig("svc", "WARNING")
        assert config["root"]["level"] == "WARNING"
        assert config["loggers"]["gunicorn.error"]["level"] == "WARNING"
        assert config["loggers"]["gunicorn.access"]["level"] == "WARNING"
        assert config["loggers"]["stripe"]["level"] == "WARNING"
        assert config["disable_existing_loggers"] is False

    def test_access_and_stripe_lines_stay_at_info_for_a_debug_or_info_service(self) -> None:
        for level in ("DEBUG", "info", 20):
            loggers = gunicorn_logconfig("svc", level)["loggers"]
            assert loggers["gunicorn.access"]["level"] == "INFO"
            assert loggers["stripe"]["level"] == "INFO"

    def test_an_unknown_level_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
            gunicorn_logconfig("svc", "LOUD")
