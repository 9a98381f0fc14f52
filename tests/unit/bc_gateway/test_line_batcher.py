"""``LineBatcher``'s hand-over logic with a scripted BC client (pure concurrency, no network).

The first caller writes alone; callers that arrive while it is under way wait and go together
in the next request; a failure of a whole request reaches exactly its own lines; over 100
waiting lines split into several requests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import pytest

from bc_gateway.adapters.bc_errors import BCError
from bc_gateway.adapters.bc_errors import BCRetryableError
from bc_gateway.line_batching import LineBatcher


class ScriptedBC:
    """Creates echo their body; the first request blocks until released; some requests fail."""

    def __init__(self, fail_requests: set[int] | None = None) -> None:
        self.requests: list[list[str]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()
        self._fail = fail_requests or set()
        self._lock = threading.Lock()

    def _record(self, keys: list[str]) -> int:
        with self._lock:
            self.requests.append(keys)
            return len(self.requests)

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        number = self._record([str(body["key"])])
        if number == 1:
            self.first_started.set()
            self.release.wait(5)
        if number in self._fail:
            raise BCRetryableError(None, "", "answer lost")
        return {"id": f"line-{body['key']}"}

    def create_many(
        self, path: str, bodies: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any] | BCError]:
        number = self._record([str(b["key"]) for b in bodies])
        if number in self._fail:
            raise BCRetryableError(None, "", "answer lost")
        return [{"id": f"line-{b['key']}"} for b in bodies]


def run(batcher: LineBatcher, bc: ScriptedBC, keys: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def one(key: str) -> None:
        try:
            results[key] = batcher.create(bc, "lines", {"key": key})  # type: ignore[arg-type]
        except BCError as exc:
            results[key] = exc

    first = threading.Thread(target=one, args=(keys[0],))
    first.start()
    assert bc.first_started.wait(5)
    others = [threading.Thread(target=one, args=(key,)) for key in keys[1:]]
    for thread in others:
        thread.start()
    while sum(1 for t in others if t.is_alive()) and len(batcher._waiting) < len(others):  # noqa: SLF001
        threading.Event().wait(0.01)
    bc.release.set()
    for thread in [first, *others]:
        thread.join(5)
    return results


def test_lines_that_arrive_during_a_write_go_together_in_the_next() -> None:
    bc, batcher = ScriptedBC(), LineBatcher()
    results = run(batcher, bc, [f"k{i}" for i in range(11)])
    assert bc.requests[0] == ["k0"]
    assert sorted(bc.requests[1]) == sorted(f"k{i}" for i in range(1, 11))
    assert len(bc.requests) == 2
    assert all(results[key] == {"id": f"line-{key}"} for key in results)
    assert (batcher.requests, batcher.lines) == (2, 11)


def test_a_failed_request_fails_exactly_its_own_lines() -> None:
    bc, batcher = ScriptedBC(fail_requests={2}), LineBatcher()
    results = run(batcher, bc, [f"k{i}" for i in range(6)])
    assert results["k0"] == {"id": "line-k0"}
    assert all(isinstance(results[f"k{i}"], BCRetryableError) for i in range(1, 6))


@pytest.mark.parametrize("waiting", [150])
def test_more_than_a_batch_waiting_goes_in_several_requests(waiting: int) -> None:
    bc, batcher = ScriptedBC(), LineBatcher(max_operations=100)
    results = run(batcher, bc, [f"k{i}" for i in range(waiting + 1)])
    assert [len(r) for r in bc.requests] == [1, 100, 50]
    assert len(results) == waiting + 1
