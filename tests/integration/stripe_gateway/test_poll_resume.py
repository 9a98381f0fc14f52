"""``stripe-gateway poll --cursor``: an interrupted backfill resumes where it stopped.

The window spans Stripe's event retention, so both kinds of source are read: 250 recent charges
come from ``/v1/events`` and 250 older ones from ``/v1/charges`` (three pages of 100 each). Runs
are interrupted two ways: the broker refusing every publish after a while (the run exits 1 and
keeps its cursor), and the process being killed outright between two pages. Either way, running
the same command again must publish every object at least once and report the whole window's
count.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from factories import bin_path
from factories import drain
from factories import wait_until

import stripe_gateway.cli
from mlconnector.bus import BrokerUnavailable
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.runtime import CommonSettings
from stripe_emulator.server import EmulatorServer
from stripe_gateway.cli import main

pytestmark = pytest.mark.rabbitmq

DAY = 86400
RECENT = OLD = 250


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


class RefusingAfter(Publisher):
    """The real publisher until ``limit`` messages went out; then the broker is "gone"."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.left = limit

    def publish_async(self, *args: Any, **kwargs: Any) -> Any:
        if self.left <= 0:
            raise BrokerUnavailable("broker unavailable: connection lost (test)")
        self.left -= 1
        return super().publish_async(*args, **kwargs)


@pytest.fixture
def world(emu: EmulatorServer, kit: Any) -> dict[str, Any]:
    """250 charges past the event retention and 250 within it; the poll window around them."""
    now = emu.advance_clock(0)
    kit.seed_charges(emu, OLD, now - 50 * DAY, now - 40 * DAY, events=False)
    kit.seed_charges(emu, RECENT, now - 10 * DAY, now - DAY)
    charges = emu.admin("GET", "objects/charge")["data"]
    events = emu.admin("GET", "objects/event")["data"]
    expected = {
        f"poll:charge.succeeded:{c['id']}" for c in charges if c["created"] < now - 30 * DAY
    }
    expected |= {e["id"] for e in events}
    assert len(expected) == RECENT + OLD
    window = ["--since", iso(now - 60 * DAY), "--until", iso(now)]
    return {"expected": expected, "window": window}


def message_ids(amqp_url: str, topology: Topology) -> list[str]:
    return [str(props.message_id) for props, _ in drain(amqp_url, topology.queue)]


class TestResume:
    def test_a_run_cut_off_by_the_broker_resumes_from_its_cursor(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        world: dict[str, Any],
        emu: EmulatorServer,
        amqp_url: str,
        bus: tuple[str, Topology],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        cursor = tmp_path / "poll.cursor.json"
        argv = ["poll", *world["window"], "--cursor", str(cursor)]

        def refusing(common: CommonSettings, client_name: str) -> Publisher:
            topology = common.topology()
            return RefusingAfter(
                common.amqp_url,
                exchange=topology.exchange,
                topology=topology,
                client_name=client_name,
                limit=130,
            )

        with monkeypatch.context() as patch:
            patch.setattr(stripe_gateway.cli, "build_publisher", refusing)
            assert main(argv) == 1
        first = capsys.readouterr().out
        assert "total: 130 published, 370 failed" in first
        assert "kept (run the same command again to resume)" in first
        stored = json.loads(cursor.read_text())
        assert stored["status"] == "running"
        events = next(s for s in stored["sources"] if s["name"] == "events")
        assert events["after"] is not None  # the first page, wholly confirmed
        assert events["published"] == {"charge.succeeded": 100}
        emu.clear_requests()

        assert main(argv) == 0

        second = capsys.readouterr().out
        assert "resumed from the cursor: 100 published by earlier runs" in second
        assert f"total: {RECENT + OLD} published, 0 failed" in second
        assert f"cursor {cursor}: done" in second
        ids = message_ids(amqp_url, bus[1])
        assert set(ids) == world["expected"]
        assert len(ids) == 130 + (RECENT + OLD - 100)  # the second run skipped the first page
        assert emu.request_count(path="/v1/events")["total"] == 2  # pages 2 and 3 only
        assert json.loads(cursor.read_text())["status"] == "done"

    def test_a_killed_process_resumes_between_pages(
        self,
        gateway_env: dict[str, str],
        world: dict[str, Any],
        emu: EmulatorServer,
        amqp_url: str,
        bus: tuple[str, Topology],
        tmp_path: Path,
    ) -> None:
        cursor = tmp_path / "poll.cursor.json"
        command = [bin_path("stripe-gateway"), "poll", *world["window"], "--cursor", str(cursor)]
        emu.configure(latency_ms=250)  # each page takes a while: room to kill between pages

        def position_saved() -> bool:
            try:
                sources = json.loads(cursor.read_text())["sources"]
            except (OSError, ValueError, KeyError):
                return False
            return any(s["after"] for s in sources)

        with (tmp_path / "first.log").open("wb") as log:
            process = subprocess.Popen(command, env=os.environ, stdout=log, stderr=log)
            try:
                assert wait_until(position_saved, timeout_s=30, interval_s=0.01)
                process.send_signal(signal.SIGKILL)
            finally:
                process.wait(10)
        assert process.returncode == -signal.SIGKILL
        stored = json.loads(cursor.read_text())
        assert stored["status"] == "running"
        before = sum(sum(s["published"].values()) for s in stored["sources"])
        assert 0 < before < RECENT + OLD
        emu.configure(latency_ms=0)

        result = subprocess.run(
            command, env=os.environ, capture_output=True, text=True, timeout=60, check=False
        )

        assert result.returncode == 0, result.stderr
        assert f"resumed from the cursor: {before} published by earlier runs" in result.stdout
        assert f"total: {RECENT + OLD} published, 0 failed" in result.stdout
        assert set(message_ids(amqp_url, bus[1])) == world["expected"]

    def test_resume_takes_the_window_from_the_cursor(
        self,
        monkeypatch: pytest.MonkeyPatch,
        gateway_env: dict[str, str],
        world: dict[str, Any],
        amqp_url: str,
        bus: tuple[str, Topology],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        cursor = tmp_path / "poll.cursor.json"
        monkeypatch.setenv("MLC_STRIPE_POLL_CURSOR", str(cursor))
        assert main(["poll", "--resume"]) == 2
        assert "nothing to resume" in capsys.readouterr().err

        assert main(["poll", *world["window"]]) == 0
        assert main(["poll", "--resume"]) == 0
        out = capsys.readouterr().out
        assert "completed" in out
        assert f"total: {RECENT + OLD} published, 0 failed" in out
        assert len(message_ids(amqp_url, bus[1])) == RECENT + OLD

        with pytest.raises(SystemExit) as info:
            main(["poll", "--resume", "--since-minutes", "5"])
        assert info.value.code == 2


class TestCursorFile:
    def test_holds_positions_and_counts_but_no_secret(
        self,
        gateway_env: dict[str, str],
        world: dict[str, Any],
        kit: Any,
        tmp_path: Path,
    ) -> None:
        cursor = tmp_path / "poll.cursor.json"
        assert main(["poll", *world["window"], "--cursor", str(cursor)]) == 0

        text = cursor.read_text()
        for secret in (kit.API_KEY, kit.WEBHOOK_SECRET, gateway_env["MLC_MASTER_KEY"]):
            assert secret not in text
        assert "sk_" not in text
        assert "whsec_" not in text
        stored = json.loads(text)
        assert set(stored) == {
            "version", "command", "window", "status", "started_at", "updated_at", "sources",
        }  # fmt: skip
        assert [s["name"] for s in stored["sources"]] == [
            "events", "invoices", "charges", "refunds", "payouts",
        ]  # fmt: skip
        assert stored["status"] == "done"
        assert stat.S_IMODE(cursor.stat().st_mode) == 0o600
        assert not list(tmp_path.glob(".poll.cursor.json.*"))  # no temporary file left behind


class TestProgress:
    def test_the_live_display_when_forced(
        self,
        gateway_env: dict[str, str],
        world: dict[str, Any],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert main(["poll", *world["window"], "--progress", "bar"]) == 0
        captured = capsys.readouterr()
        assert f"{RECENT + OLD:,} published" in captured.err
        assert "pages" in captured.err
        assert "\x1b[" in captured.err  # drawn for a terminal
        assert f"total: {RECENT + OLD} published, 0 failed" in captured.out

    def test_log_lines_without_a_terminal(
        self,
        gateway_env: dict[str, str],
        world: dict[str, Any],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        started = time.monotonic()
        assert main(["poll", *world["window"], "--progress-every", "2"]) == 0
        assert time.monotonic() - started < 30
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        progress = [line["message"] for line in lines if "poll progress" in line["message"]]
        assert progress, lines
        assert any(f": {OLD} published" in line for line in progress)  # after the events
        assert progress[-1].startswith(f"poll progress: finished: {RECENT + OLD} published")
