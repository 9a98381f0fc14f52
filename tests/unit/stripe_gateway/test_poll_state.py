"""The poll's plan and cursor: what is stored, and what a late resume does to the events source."""

from __future__ import annotations

import collections

import pytest

from stripe_gateway.poll_state import CursorMismatch
from stripe_gateway.poll_state import PollState
from stripe_gateway.poll_state import plan
from stripe_gateway.poll_state import replan
from stripe_gateway.poll_state import start
from stripe_gateway.polling_window import RETENTION_MARGIN_S
from stripe_gateway.polling_window import RETENTION_S
from stripe_gateway.polling_window import Window

NOW = 1_800_000_000
DAY = 86400
EDGE = NOW - RETENTION_S + RETENTION_MARGIN_S


class TestPlan:
    def test_a_window_across_the_edge_reads_events_then_the_four_lists(self) -> None:
        state = plan(Window(NOW - 40 * DAY, NOW), NOW)
        assert [(s.name, s.window) for s in state.sources] == [
            ("events", Window(EDGE, NOW)),
            ("invoices", Window(NOW - 40 * DAY, EDGE)),
            ("charges", Window(NOW - 40 * DAY, EDGE)),
            ("refunds", Window(NOW - 40 * DAY, EDGE)),
            ("payouts", Window(NOW - 40 * DAY, EDGE)),
        ]

    def test_the_state_survives_its_json_form(self) -> None:
        state = plan(Window(NOW - 40 * DAY, NOW), NOW)
        state.sources[0].after = "evt_123"
        state.sources[0].published = collections.Counter({"invoice.paid": 7})
        again = PollState.from_json(state.to_json())
        assert again.sources == state.sources
        assert again.window == state.window
        assert not again.finished

    def test_a_foreign_file_is_refused(self) -> None:
        with pytest.raises(CursorMismatch):
            PollState.from_json({"command": "bc-gateway poll-invoices", "version": 1})


class TestResume:
    def test_a_prompt_resume_keeps_the_stored_plan(self) -> None:
        state = plan(Window(NOW - 40 * DAY, NOW), NOW)
        resumed, again = start(state, Window(NOW - 40 * DAY, NOW), NOW + 600)
        assert again
        assert resumed.sources == state.sources

    def test_another_window_starts_afresh(self) -> None:
        state = plan(Window(NOW - 40 * DAY, NOW), NOW)
        fresh, again = start(state, Window(NOW - 41 * DAY, NOW), NOW)
        assert not again
        assert fresh.window == Window(NOW - 41 * DAY, NOW)

    def test_a_late_resume_moves_the_expiring_events_to_object_lists(self) -> None:
        state = plan(Window(NOW - 40 * DAY, NOW), NOW)
        events = state.sources[0]
        events.after = "evt_123"
        later = NOW + 2 * DAY
        new_edge = later - RETENTION_S + RETENTION_MARGIN_S

        resumed = replan(state, later)

        by_window = [(s.name, s.window, s.after) for s in resumed.sources]
        assert ("events", Window(new_edge, NOW), "evt_123") in by_window
        for name in ("invoices", "charges", "refunds", "payouts"):
            assert (name, Window(EDGE, new_edge), None) in by_window  # the part gone from events
            assert (name, Window(NOW - 40 * DAY, EDGE), None) in by_window  # as planned
