"""stripe-gateway settings, from ``MLC_*`` environment variables (one error lists every problem)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from mlconnector.config import EnvReader
from mlconnector.runtime import CommonSettings

SERVICE = "stripe-gateway"
SECRETS_PATH = "ml-connector/stripe"
REQUIRED_SECRETS = ("api_key", "webhook_secret")


@dataclasses.dataclass(frozen=True)
class Settings:
    common: CommonSettings
    secrets_path: str
    max_body_bytes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = EnvReader(environ)
        settings = cls(
            common=CommonSettings.from_reader(env),
            secrets_path=env("STRIPE_SECRETS_PATH", default=SECRETS_PATH),
            max_body_bytes=env("STRIPE_MAX_BODY_BYTES", int, 256 * 1024),
        )
        env.finish()
        return settings
