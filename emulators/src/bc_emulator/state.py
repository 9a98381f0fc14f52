"""The per-app emulator object stored on ``app.extensions["bc_emulator"]``.

It bundles the runtime knobs, the emulated clock, the data store, the entity-set registry, issued
tokens, the throttle, fault rules, the webhook notifier and interactive sign-in (the directory of
people and web apps, the signing key, codes and browser sessions), so views reach everything
through :func:`current_emulator` and two apps in one process never share state.
"""

from __future__ import annotations

from flask import current_app

from bc_emulator.clock import Clock
from bc_emulator.config import EmulatorConfig
from bc_emulator.config import RuntimeKnobs
from bc_emulator.directory import Directory
from bc_emulator.faults import Faults
from bc_emulator.id_tokens import Signer
from bc_emulator.notifier import Notifier
from bc_emulator.registry import Registry
from bc_emulator.registry import build_registry
from bc_emulator.signin_store import SigninStore
from bc_emulator.store import Store
from bc_emulator.throttle import Throttle
from bc_emulator.tokens import TokenStore

EXTENSION = "bc_emulator"


class Emulator:
    """Everything one emulator instance owns."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.initial_config = config
        self.knobs = RuntimeKnobs(config)
        self.clock = Clock()
        self.store = Store(self.clock)
        self.registry: Registry = build_registry()
        self.tokens = TokenStore()
        self.throttle = Throttle(self.knobs)
        self.faults = Faults()
        self.notifier = Notifier(self.store, self.knobs, self.clock)
        self.directory = Directory(self.knobs)
        self.signing = Signer()
        self.signin = SigninStore()
        self.api_requests = 0
        self.batch_operations = 0

    @property
    def config(self) -> EmulatorConfig:
        """The current configuration."""
        return self.knobs.config

    def reset(self) -> None:
        """Back to an empty emulator with the startup configuration.

        Admin-added apps, users and web apps are kept (set-up, not test data); sign-in codes,
        browser sessions and user tokens are forgotten.
        """
        self.knobs.config = self.initial_config
        self.notifier.reset()
        self.store.reset()
        self.clock.reset()
        self.tokens.clear()
        self.signin.clear()
        self.throttle.reset()
        self.faults.clear()
        self.api_requests = 0
        self.batch_operations = 0

    def close(self) -> None:
        """Stop background work."""
        self.notifier.stop()


def current_emulator() -> Emulator:
    """The emulator of the current Flask app."""
    emulator: Emulator = current_app.extensions[EXTENSION]
    return emulator
