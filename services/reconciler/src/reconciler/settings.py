"""Reconciler settings, from ``MLC_*`` environment variables (one error lists every problem)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from mlconnector.config import EnvReader
from mlconnector.db import DEFAULT_SQLITE_URL
from mlconnector.runtime import CommonSettings

SERVICE = "reconciler"
SECRETS_PATH = "ml-connector/reconciler"
REQUIRED_SECRETS = ("replay_token",)


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+")):
        raise ValueError("expected a sqlite:/// or postgresql:// URL")
    return raw


@dataclasses.dataclass(frozen=True)
class Settings:
    common: CommonSettings
    database_url: str = dataclasses.field(repr=False)
    secrets_path: str
    prefetch: int
    workers: int
    max_retries: int
    heartbeat_file: Path | None
    max_body_bytes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = EnvReader(environ)
        settings = cls(
            common=CommonSettings.from_reader(env),
            database_url=env("DATABASE_URL", _database_url, DEFAULT_SQLITE_URL),
            secrets_path=env("RECONCILER_SECRETS_PATH", default=SECRETS_PATH),
            prefetch=env("PREFETCH", int, 16),
            workers=env("CONSUMER_WORKERS", int, 4),
            max_retries=env("MAX_RETRIES", int, 8),
            heartbeat_file=env.optional("HEARTBEAT_FILE", Path),
            max_body_bytes=env("RECONCILER_MAX_BODY_BYTES", int, 64 * 1024),
        )
        env.finish()
        return settings
