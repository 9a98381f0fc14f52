"""Payment lines written at the same moment go to BC together, as one ``$batch`` request.

Under a backlog (a month-end run, a first load, BC slow for a while) many payment lines wait
for BC at once, and BC's budget, 6,000 requests per 5 minutes per app registration (bc-api.md
§8), is what limits them. Microsoft's advice for that budget is to "use batching to perform
multiple operations in one call" (the training module "Work with API limits",
https://learn.microsoft.com/en-us/training/modules/work-with-api/4-limits/): one OData
``$batch`` carries up to 100 operations (bc-api.md §6.3). Microsoft does not say whether BC's
window counts a batch once or once per operation; counted once, a backlog costs a fraction of
a request per line, and counted per operation it costs what it did, in fewer round trips.

``LineBatcher`` batches by need, not by waiting: a line that finds no write under way goes at
once, alone, as a plain POST (no added latency when traffic is light); lines that arrive while
a write is under way queue, and the next write carries all of them (up to 100). A caller waits
for its own line's answer: created, or the error BC gave for that line alone (each operation
stands alone: ``Prefer: odata.continue-on-error``, no ``Isolation``), or, when the whole
request failed or its answer was lost, that failure, which leaves every line of it in doubt
exactly like a lost answer to a single POST (the reconciler's next attempt looks before it
writes).

Only first writes the reconciler vouches for come here (``postings.KnownInvoice``): they are
pure creates, with no look-up of their own to order against.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from bc_gateway.adapters.bc_client import MAX_BATCH_OPERATIONS
from bc_gateway.adapters.bc_client import BCClient
from bc_gateway.adapters.bc_client import Entity
from bc_gateway.adapters.bc_errors import BCError


@dataclasses.dataclass(eq=False)
class _Line:
    path: str
    body: Mapping[str, Any]
    done: bool = False
    entity: Entity | None = None
    error: BaseException | None = None


class LineBatcher:
    """Creates in the same collection, one request at a time, the waiting ones together."""

    def __init__(self, max_operations: int = MAX_BATCH_OPERATIONS) -> None:
        self._max = max_operations
        self._cond = threading.Condition()
        self._waiting: list[_Line] = []
        self._writing = False
        self.requests = 0
        self.lines = 0

    def create(self, bc: BCClient, path: str, body: Mapping[str, Any]) -> Entity:
        """Create the entity (alone or with the lines waiting beside it); BC's answer for it."""
        line = _Line(path, body)
        with self._cond:
            self._waiting.append(line)
        while True:
            # Wait until the line is written, or nobody is writing: then write the next group.
            with self._cond:
                while not line.done and self._writing:
                    self._cond.wait()
                if line.done:
                    break
                self._writing = True
            self._write_next(bc)
        if line.error is not None:
            raise line.error
        assert line.entity is not None
        return line.entity

    def _write_next(self, bc: BCClient) -> None:
        """One request for the oldest waiting lines of one collection; hand the writer role on."""
        with self._cond:
            path = self._waiting[0].path
            group = [line for line in self._waiting if line.path == path][: self._max]
            taken = set(map(id, group))
            self._waiting = [line for line in self._waiting if id(line) not in taken]
        try:
            if len(group) == 1:
                outcomes: list[Entity | BCError] = [bc.create(path, group[0].body)]
            else:
                outcomes = bc.create_many(path, [line.body for line in group])
        except BaseException as exc:  # the request as a whole: every line of it shares it
            outcomes_or_error: list[Entity | BaseException] = [exc] * len(group)
        else:
            outcomes_or_error = list(outcomes)
        with self._cond:
            self.requests += 1
            self.lines += len(group)
            for line, outcome in zip(group, outcomes_or_error, strict=True):
                if isinstance(outcome, BaseException):
                    line.error = outcome
                else:
                    line.entity = outcome
                line.done = True
            self._writing = False
            self._cond.notify_all()
