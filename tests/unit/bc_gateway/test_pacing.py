"""Client-side pacing (sliding window over answered requests) and full-jitter backoff."""

from __future__ import annotations

import random
import threading

import pytest

from bc_gateway.adapters.pacing import WINDOW_MARGIN
from bc_gateway.adapters.pacing import Backoff
from bc_gateway.adapters.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestPacer:
    def test_capacity_and_window_follow_the_rate(self) -> None:
        pacer = Pacer(2.5)
        assert pacer.capacity == 2
        assert pacer.window_s == pytest.approx(0.8 * WINDOW_MARGIN)

    def test_no_limit_never_waits(self) -> None:
        pacer = Pacer(None)
        assert all(pacer.try_acquire() is not None for _ in range(1000))

    def test_a_full_window_frees_one_window_after_the_answers(self) -> None:
        clock = FakeClock()
        pacer = Pacer(20, clock=clock)
        slots = [pacer.try_acquire() for _ in range(20)]
        assert all(slots)
        assert pacer.try_acquire() is None
        clock.now += 0.3
        for slot in slots:
            assert slot is not None
            pacer.release(slot)  # the answers came back at 100.3
        clock.now = 100.3 + pacer.window_s - 0.001
        assert pacer.try_acquire() is None
        clock.now = 100.3 + pacer.window_s + 0.001
        assert pacer.try_acquire() is not None

    def test_a_request_in_flight_keeps_its_slot_however_long_it_takes(self) -> None:
        clock = FakeClock()
        pacer = Pacer(1, clock=clock)
        slot = pacer.try_acquire()
        assert slot is not None
        clock.now += 60
        assert pacer.try_acquire() is None
        pacer.release(slot)
        clock.now += pacer.window_s + 0.001
        assert pacer.try_acquire() is not None

    def test_retry_after_holds_every_caller(self) -> None:
        clock = FakeClock()
        pacer = Pacer(None, clock=clock)
        pacer.hold(2)
        assert pacer.try_acquire() is None
        clock.now += 2.001
        assert pacer.try_acquire() is not None

    def test_a_blocked_caller_is_woken_by_a_release(self) -> None:
        pacer = Pacer(1)
        first = pacer.acquire()
        got: list[object] = []
        waiter = threading.Thread(target=lambda: got.append(pacer.acquire()))
        waiter.start()
        waiter.join(0.05)
        assert got == []  # still in flight: nobody may send
        pacer.release(first)
        waiter.join(5)
        assert len(got) == 1


class TestBackoff:
    def test_full_jitter_stays_under_the_exponential_cap(self) -> None:
        backoff = Backoff(base_s=0.5, cap_s=4)
        rng = random.Random(7)
        for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
            delays = [backoff.delay(attempt, None, rng) for _ in range(200)]
            assert all(0 <= d <= ceiling for d in delays)
            assert max(delays) > ceiling * 0.8  # spread over the whole range, not fixed

    def test_retry_after_is_a_floor(self) -> None:
        assert Backoff(base_s=0.1).delay(1, 3.0, random.Random(1)) == 3.0

    def test_attempts_and_time_are_bounded(self) -> None:
        backoff = Backoff(max_attempts=3, budget_s=10)
        assert backoff.allows(2, elapsed_s=1, delay_s=1)
        assert not backoff.allows(3, elapsed_s=1, delay_s=1)
        assert not backoff.allows(1, elapsed_s=9.5, delay_s=1)
