"""``bc-gateway poll-invoices --cursor``: an interrupted poll resumes where it stopped.

250 posted (Open) invoices changed after the window start, plus invoices it must leave out (older
ones, drafts). The bulk seed creates several invoices per millisecond, so small pages end inside
a millisecond and the tie handling of the keyset paging is exercised on the way. Runs are
interrupted two ways: the broker refusing publishes after two pages (in process, then resumed by
the real command) and the process killed between two pages; either way the same command run
again publishes every invoice at least once and reports the whole window's count.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import bin_path
from factories import drain
from factories import wait_until

from bc_gateway.bootstrap import build_dependencies
from bc_gateway.cli import main
from bc_gateway.invoice_poll import poll_invoices
from bc_gateway.invoice_poll import start
from bc_gateway.publishing import Publish
from bc_gateway.settings import Settings
from mlconnector.bus import BrokerUnavailable
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import Envelope
from mlconnector.secrets_file import EncryptedFileSecrets
from mlconnector.state_file import write_state

pytestmark = pytest.mark.rabbitmq

COUNT = 250


class RefusingAfter:
    """``Publish`` that lets ``calls`` batches through, then finds the broker gone."""

    def __init__(self, inner: Publish, calls: int) -> None:
        self.inner = inner
        self.left = calls

    def __call__(self, envelopes: Iterable[Envelope]) -> int:
        if self.left <= 0:
            raise BrokerUnavailable("broker unavailable: connection lost (test)")
        self.left -= 1
        return self.inner(envelopes)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures logging for a process; undo it after each in-process run."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def seeded(admin: Any, company: Any) -> dict[str, Any]:
    """Invoices to find (250 Open, changed after ``since``) and invoices to leave out."""
    company.seed(
        admin, "invoices/bulk", {"count": 3, "customerId": company.customer_id, "post": True}
    )
    time.sleep(0.01)
    since = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    found = company.seed(
        admin, "invoices/bulk", {"count": COUNT, "customerId": company.customer_id, "post": True}
    )
    company.seed(admin, "invoices/bulk", {"count": 4, "customerId": company.customer_id})  # drafts
    return {"since": since, "ids": set(found["ids"])}


@pytest.fixture
def job_env(env: dict[str, str], namespace: Topology) -> dict[str, str]:
    """The command's environment: the test's bus namespace and small pages."""
    return {
        **env,
        "MLC_BUS_NAMESPACE": namespace.exchange.removeprefix("mlc.events."),
        "MLC_BC_PAGE_SIZE": "40",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_path("bc-gateway"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def entity_ids(amqp_url: str, topology: Topology) -> list[str]:
    return [json.loads(body)["data"]["entity_id"] for _, body in drain(amqp_url, topology.queue)]


class TestResume:
    def test_a_poll_cut_off_by_the_broker_resumes_from_its_cursor(
        self,
        job_env: dict[str, str],
        seeded: dict[str, Any],
        namespace: Topology,
        amqp_url: str,
        store: EncryptedFileSecrets,
        tmp_path: Path,
    ) -> None:
        cursor = tmp_path / "poll-invoices.cursor.json"
        settings = Settings.from_env(job_env)
        publisher = Publisher(
            amqp_url, exchange=namespace.exchange, topology=namespace, client_name="bc-poll-test"
        )
        deps = build_dependencies(settings, publisher=publisher, secret_store=store)
        assert deps.bc is not None
        state, resumed = start(None, deps.bc.company_id, seeded["since"])
        try:
            with pytest.raises(BrokerUnavailable):
                poll_invoices(
                    deps.bc,
                    RefusingAfter(deps.publish, calls=2),
                    state,
                    correlation_id="test-interrupted",
                    page_size=40,
                    save=lambda s: write_state(cursor, s.to_json()),
                )
        finally:
            publisher.close()
        stored = json.loads(cursor.read_text())
        assert stored["status"] == "running"
        assert 40 <= stored["published"] < COUNT
        assert stored["position"] is not None

        result = run(
            job_env,
            "poll-invoices",
            "--since",
            seeded["since"].isoformat(),
            "--cursor",
            str(cursor),
        )

        assert result.returncode == 0, result.stderr
        assert f"published {COUNT} bc.invoice.observed" in result.stdout
        assert f"resumed from the cursor: {stored['published']} published" in result.stdout
        ids = entity_ids(amqp_url, namespace)
        assert set(ids) == seeded["ids"]
        assert len(ids) == COUNT  # each exactly once: the resumed run started after the position
        assert json.loads(cursor.read_text())["status"] == "done"

    def test_a_killed_process_resumes_between_pages(
        self,
        job_env: dict[str, str],
        seeded: dict[str, Any],
        admin: Any,
        namespace: Topology,
        amqp_url: str,
        tmp_path: Path,
    ) -> None:
        cursor = tmp_path / "poll-invoices.cursor.json"
        args = ["poll-invoices", "--since", seeded["since"].isoformat(), "--cursor", str(cursor)]
        admin.config(latency_ms=300)  # each page takes a while: room to kill between pages

        def position_saved() -> bool:
            try:
                return json.loads(cursor.read_text())["position"] is not None
            except (OSError, ValueError, KeyError):
                return False

        with (tmp_path / "first.log").open("wb") as log:
            process = subprocess.Popen(
                [bin_path("bc-gateway"), *args], env=job_env, stdout=log, stderr=log
            )
            try:
                assert wait_until(position_saved, timeout_s=60, interval_s=0.01)
                process.send_signal(signal.SIGKILL)
            finally:
                process.wait(10)
        assert process.returncode == -signal.SIGKILL
        stored = json.loads(cursor.read_text())
        assert 0 < stored["published"] < COUNT
        admin.config(latency_ms=0)

        result = run(job_env, *args)

        assert result.returncode == 0, result.stderr
        assert f"published {COUNT} bc.invoice.observed" in result.stdout
        assert f"resumed from the cursor: {stored['published']} published" in result.stdout
        assert set(entity_ids(amqp_url, namespace)) == seeded["ids"]


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, job_env: dict[str, str]) -> dict[str, str]:
    """``job_env`` as this process's environment, for ``main`` run in process."""
    for name in [n for n in os.environ if n.startswith("MLC_")]:
        monkeypatch.delenv(name)
    for name, value in job_env.items():
        if name.startswith("MLC_"):
            monkeypatch.setenv(name, value)
    return job_env


class TestCommand:
    def test_small_pages_publish_each_invoice_once_with_the_cursor_free_of_secrets(
        self,
        monkeypatch: pytest.MonkeyPatch,
        in_process: dict[str, str],
        seeded: dict[str, Any],
        namespace: Topology,
        amqp_url: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        cursor = tmp_path / "poll-invoices.cursor.json"
        since = seeded["since"].isoformat()
        monkeypatch.setenv("MLC_BC_PAGE_SIZE", "7")  # many pages end inside a millisecond

        assert main(["poll-invoices", "--since", since, "--cursor", str(cursor)]) == 0

        assert f"published {COUNT} bc.invoice.observed" in capsys.readouterr().out
        ids = entity_ids(amqp_url, namespace)
        assert len(ids) == COUNT
        assert set(ids) == seeded["ids"]
        text = cursor.read_text()
        for name in ("MLC_MASTER_KEY",):
            assert in_process[name] not in text
        for secret in ("client_secret", "client_state"):
            assert secret not in text
        stored = json.loads(text)
        assert set(stored) == {
            "version", "command", "window", "position", "published", "status", "started_at",
            "updated_at",
        }  # fmt: skip
        assert stored["published"] == COUNT
        assert stored["status"] == "done"
        assert stat.S_IMODE(cursor.stat().st_mode) == 0o600

        assert main(["poll-invoices", "--resume", "--cursor", str(cursor)]) == 0
        assert f"published {COUNT} bc.invoice.observed" in capsys.readouterr().out
        assert entity_ids(amqp_url, namespace) == []  # a finished run has nothing to resume

    def test_progress_is_drawn_when_forced(
        self,
        in_process: dict[str, str],
        seeded: dict[str, Any],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        since = seeded["since"].isoformat()
        assert main(["poll-invoices", "--since", since, "--progress", "bar"]) == 0
        captured = capsys.readouterr()
        assert f"{COUNT:,} published" in captured.err
        assert "\x1b[" in captured.err
        assert f"published {COUNT} bc.invoice.observed" in captured.out

    def test_progress_is_logged_without_a_terminal(
        self,
        in_process: dict[str, str],
        seeded: dict[str, Any],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        since = seeded["since"].isoformat()
        assert main(["poll-invoices", "--since", since, "--progress-every", "2"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        progress = [line["message"] for line in lines if "poll progress" in line["message"]]
        assert re.match(r"poll progress: salesInvoices: \d+ published, 2 pages", progress[0])
        assert progress[-1].startswith(f"poll progress: finished: {COUNT} published")

    def test_resume_needs_a_cursor(
        self, in_process: dict[str, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["poll-invoices", "--resume"]) == 2
        assert "nothing to resume" in capsys.readouterr().err
