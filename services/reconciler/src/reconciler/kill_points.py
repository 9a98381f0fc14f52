"""Kill points for crash tests (reliability.md §5.2): SIGKILL this process at a named step.

Honoured only with ``MLC_ENVIRONMENT=test`` (``consumer.build_runner`` decides). The points
follow one payment through the reconciler: its posting claim committed, the BC line written
but not yet confirmed, the inbox transaction about to commit, and committed but not acked.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

AFTER_CLAIM = "after_claim"
AFTER_BC_WRITE = "after_bc_write"
BEFORE_COMMIT = "before_commit"
AFTER_COMMIT = "after_commit"
KILL_POINTS = (AFTER_CLAIM, AFTER_BC_WRITE, BEFORE_COMMIT, AFTER_COMMIT)


class KillSwitch:
    """Called at every kill point; kills the process at the one it was armed for, if any."""

    def __init__(self, armed: str | None = None) -> None:
        if armed is not None and armed not in KILL_POINTS:
            raise ValueError(f"unknown kill point {armed!r}; expected one of {KILL_POINTS}")
        self.armed = armed

    def __call__(self, point: str) -> None:
        if point == self.armed:
            logger.warning("kill point %s reached: killing this process", point)
            os.kill(os.getpid(), signal.SIGKILL)
