"""BC's request window shared by every process of the app registration, in real Redis.

Several bc-gateway processes (gunicorn workers, replicas, CronJob pods) call BC as one user;
``SharedBudget`` keeps one sliding window for all of them (issue 15). Here separate processes
draw from one budget, a 429 with ``Retry-After`` seen by one holds the others, and a store that
cannot be reached never stops BC traffic.
"""

from __future__ import annotations

import multiprocessing
import secrets
import time

from bc_gateway.adapters.shared_budget import SharedBudget


def _draw(redis_url: str, key: str, count: int, done: multiprocessing.Queue[list[float]]) -> None:
    budget = SharedBudget("20 per 2 seconds", redis_url, key)
    stamps = []
    for _ in range(count):
        budget.acquire()
        stamps.append(time.time())
    done.put(stamps)


def test_processes_share_one_sliding_window(redis_url: str) -> None:
    key = f"mlc-test:bc-budget:{secrets.token_hex(4)}"
    done: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_draw, args=(redis_url, key, 15, done)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    stamps = sorted(t for _ in workers for t in done.get(timeout=30))
    for worker in workers:
        worker.join(timeout=10)
    assert len(stamps) == 45
    # BC's rule, checked over every window: never more than 20 requests in 2 seconds. The
    # stamps are taken just after each place was granted, a few ms late: 50 ms of slack.
    worst = max(sum(1 for t in stamps if start <= t < start + 1.95) for start in stamps)
    assert worst <= 20
    # And the window is used, not wasted: 45 requests need a bit more than two windows.
    assert 4.0 <= stamps[-1] - stamps[0] < 6.5


def test_a_retry_after_seen_by_one_process_holds_every_process(redis_url: str) -> None:
    key = f"mlc-test:bc-budget:{secrets.token_hex(4)}"
    one = SharedBudget("100 per 1 second", redis_url, key)
    other = SharedBudget("100 per 1 second", redis_url, key)
    one.hold(2)
    started = time.monotonic()
    other.acquire()
    assert time.monotonic() - started >= 1.0
    assert other.waited_s >= 1.0


def test_an_unreachable_store_never_stops_bc_traffic() -> None:
    budget = SharedBudget("1 per 1 hour", "redis://127.0.0.1:1/0", "mlc-test:bc-budget:down")
    started = time.monotonic()
    for _ in range(5):
        budget.acquire()  # fails open: the per-process pacing and BC's 429s still apply
    budget.hold(30)
    assert time.monotonic() - started < 5
