"""stripe-gateway settings, from ``MLC_*`` environment variables (one error lists every problem).

The Stripe API base is a setting like any other endpoint (style.md §3.11): production keeps the
default ``https://api.stripe.com``, tests and the demo point it at the emulator. The retry and
timeout knobs bound how long one command can hold a request thread; the webhook knobs are the
replay window and how quickly a rotated signing secret is picked up from the secret store.
``MLC_STRIPE_POLL_CURSOR`` names the file a long ``poll`` saves its position in, so a Job that
is restarted after an interruption resumes instead of starting over (``polling.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from mlconnector.config import EnvReader
from mlconnector.config import bounded
from mlconnector.config import bounded_int
from mlconnector.runtime import CommonSettings

SERVICE = "stripe-gateway"
SECRETS_PATH = "ml-connector/stripe"
REQUIRED_SECRETS = ("api_key", "webhook_secret")
OPTIONAL_SECRETS = ("webhook_secret_previous",)
DEFAULT_API_BASE = "https://api.stripe.com"


def _api_base(raw: str) -> str:
    base = raw.strip().rstrip("/")
    if not base.startswith(("http://", "https://")) or "@" in base:
        # No credentials in the URL: it appears in log lines and error messages.
        raise ValueError("expected http(s)://host[:port] without credentials")
    return base


@dataclasses.dataclass(frozen=True)
class Settings:
    common: CommonSettings
    secrets_path: str
    max_body_bytes: int
    stripe_api_base: str = DEFAULT_API_BASE
    stripe_max_network_retries: int = 2
    stripe_rate_limit_retries: int = 3
    stripe_timeout_s: float = 20.0
    webhook_tolerance_s: int = 300
    webhook_secret_ttl_s: float = 30.0
    webhook_secret_max_stale_s: float = 300.0
    # Where ``poll`` keeps its resumable position (``--cursor`` overrides); None: nowhere.
    poll_cursor: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = EnvReader(environ)
        settings = cls(
            common=CommonSettings.from_reader(env),
            secrets_path=env("STRIPE_SECRETS_PATH", default=SECRETS_PATH),
            max_body_bytes=env("STRIPE_MAX_BODY_BYTES", bounded_int(1024, 16 * 1024**2), 262144),
            stripe_api_base=env("STRIPE_API_BASE", _api_base, DEFAULT_API_BASE),
            stripe_max_network_retries=env("STRIPE_MAX_NETWORK_RETRIES", bounded_int(0, 5), 2),
            stripe_rate_limit_retries=env("STRIPE_RATE_LIMIT_RETRIES", bounded_int(0, 10), 3),
            stripe_timeout_s=env("STRIPE_TIMEOUT", bounded(float, 1, 120), 20.0),
            # Stripe's own default; never 0, which would disable the replay window.
            webhook_tolerance_s=env("STRIPE_WEBHOOK_TOLERANCE", bounded_int(30, 600), 300),
            webhook_secret_ttl_s=env("STRIPE_WEBHOOK_SECRET_TTL", bounded(float, 0, 3600), 30.0),
            webhook_secret_max_stale_s=env(
                "STRIPE_WEBHOOK_SECRET_MAX_STALE", bounded(float, 0, 86400), 300.0
            ),
            poll_cursor=env.optional("STRIPE_POLL_CURSOR", Path),
        )
        env.finish()
        return settings
