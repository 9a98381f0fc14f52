"""Stripe API emulator for tests, the demo and benchmarks (see README.md in this package).

`create_app(config)` builds the Flask app; `server.EmulatorServer` runs it on 127.0.0.1 in a
background thread; `python -m stripe_emulator --port 0` runs it as a process.
"""

from __future__ import annotations

from .app import create_app
from .config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
