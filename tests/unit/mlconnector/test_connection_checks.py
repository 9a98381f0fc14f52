"""The connection-report runner: checks in order, a deadline, a crash, and a busy process."""

from __future__ import annotations

import threading
import time

import pytest

from mlconnector.connection_checks import Check
from mlconnector.connection_checks import CheckRunner
from mlconnector.connection_checks import Recorder
from mlconnector.connection_checks import failed
from mlconnector.connection_checks import not_checked
from mlconnector.connection_checks import passed

NAMES = ("token", "company", "permissions")


class TestCheck:
    def test_the_json_is_the_facts_with_the_verdict(self) -> None:
        check = passed("all good", name="CRONUS", id="c1")
        assert check.to_json() == {
            "name": "CRONUS",
            "id": "c1",
            "ok": True,
            "detail": "all good",
            "skipped": False,
        }
        assert not_checked("no token").to_json() == {
            "ok": False,
            "detail": "no token",
            "skipped": True,
        }

    def test_facts_cannot_hide_the_verdict(self) -> None:
        with pytest.raises(ValueError, match="ok"):
            Check(True, "fine", facts={"ok": False})


class TestRunner:
    def test_every_check_in_order_and_the_rest_skipped_with_the_reason(self) -> None:
        def steps(rec: Recorder) -> None:
            rec.put("company", failed("unknown company"))  # out of order on purpose
            rec.put("token", passed("issued"))
            rec.skip_rest("not checked: the company check failed")

        checks = CheckRunner("BC", NAMES).run(steps, timeout_s=5)

        assert list(checks) == list(NAMES)
        assert checks["token"].ok
        assert not checks["company"].ok
        assert checks["permissions"] == not_checked("not checked: the company check failed")

    def test_the_check_still_waiting_at_the_deadline_says_so_with_its_facts(self) -> None:
        release = threading.Event()

        def steps(rec: Recorder) -> None:
            rec.put("token", passed("issued"))
            rec.begin("company", id="c1")
            release.wait(5)
            rec.put("company", passed("too late"))

        started = time.monotonic()
        checks = CheckRunner("BC", NAMES).run(steps, timeout_s=0.2)
        elapsed = time.monotonic() - started
        release.set()

        assert elapsed < 1
        assert checks["token"].ok
        assert checks["company"] == failed("BC did not answer within 0.2 s", id="c1")
        assert checks["permissions"] == not_checked("not checked: BC did not answer within 0.2 s")

    def test_a_worker_past_the_deadline_stops_at_its_next_check(self) -> None:
        release, stopped = threading.Event(), threading.Event()
        asked: list[str] = []

        def steps(rec: Recorder) -> None:
            try:
                for name in NAMES:
                    rec.begin(name)
                    asked.append(name)
                    release.wait(5)
                    rec.put(name, passed("late"))
            finally:
                stopped.set()

        CheckRunner("BC", NAMES).run(steps, timeout_s=0.1)
        release.set()

        assert stopped.wait(5)
        assert asked == ["token"]

    def test_a_late_result_changes_nothing_once_answered(self) -> None:
        rec = Recorder(NAMES)
        rec.put("token", passed("issued"))
        answer = rec.close("late", "not checked: late")
        rec.put("company", passed("after the answer"))
        assert answer["company"] == failed("late")
        assert rec.close("late", "not checked: late")["company"] == failed("late")

    def test_a_crash_fails_the_check_in_progress_not_the_request(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        def steps(rec: Recorder) -> None:
            rec.put("token", passed("issued"))
            rec.begin("company", id="c1")
            raise KeyError("displayName")

        checks = CheckRunner("BC", NAMES).run(steps, timeout_s=5)

        assert checks["token"].ok
        assert checks["company"].ok is False
        assert "KeyError" in checks["company"].detail
        assert checks["company"].facts == {"id": "c1"}
        assert checks["permissions"].skipped
        assert "failed unexpectedly" in caplog.text

    def test_a_busy_process_answers_at_once_instead_of_piling_up_threads(self) -> None:
        runner = CheckRunner("Stripe", NAMES, max_running=1)
        release = threading.Event()
        first = threading.Thread(target=runner.run, args=(lambda _rec: release.wait(5), 5))
        first.start()
        try:
            time.sleep(0.05)
            checks = runner.run(lambda rec: rec.put("token", passed("x")), timeout_s=0.2)
        finally:
            release.set()
            first.join(5)

        assert all(c.skipped for c in checks.values())
        assert "still waiting for Stripe" in checks["token"].detail
        # The slot comes back once the first run ends.
        assert runner.run(lambda rec: rec.skip_rest("fine"), timeout_s=1)["token"].detail == "fine"

    def test_an_unknown_check_name_is_a_bug(self) -> None:
        with pytest.raises(KeyError):
            Recorder(NAMES).put("tokens", passed("x"))
