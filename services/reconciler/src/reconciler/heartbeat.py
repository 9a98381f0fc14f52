"""The consumer's liveness probe, kept free of heavy imports.

Kubernetes runs ``reconciler heartbeat-check`` every probe period; importing the broker,
database and web stacks for it would cost seconds of CPU each time. The consumer's loop touches
the heartbeat file every half second, so a stale file means the loop is stuck.
"""

from __future__ import annotations

import os
import sys
import time


def check(max_age_s: float) -> int:
    """0 when the heartbeat file is fresh, 1 when stale or missing, 2 when not configured."""
    path = os.environ.get("MLC_HEARTBEAT_FILE")
    if not path:
        print("MLC_HEARTBEAT_FILE is not set", file=sys.stderr)
        return 2
    try:
        age = time.time() - os.path.getmtime(path)
    except OSError:
        print(f"no heartbeat file at {path}", file=sys.stderr)
        return 1
    if age > max_age_s:
        print(f"heartbeat is {age:.0f}s old (limit {max_age_s:.0f}s)", file=sys.stderr)
        return 1
    return 0
