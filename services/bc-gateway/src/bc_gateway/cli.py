"""The ``bc-gateway`` command: ``serve`` runs the HTTP service under gunicorn."""

from __future__ import annotations

import argparse
import sys

from bc_gateway.settings import REQUIRED_SECRETS
from bc_gateway.settings import SERVICE
from bc_gateway.settings import Settings
from mlconnector.runtime import load_service_secrets
from mlconnector.runtime import preflight
from mlconnector.secrets import build_secret_store
from mlconnector.serving import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=SERVICE, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP service (webhooks, commands, health)")
    return parser


def _check() -> None:
    settings = Settings.from_env()
    store = build_secret_store(settings.common.secrets)
    load_service_secrets(store, settings.secrets_path, REQUIRED_SECRETS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not preflight(SERVICE, _check):
        return 2
    if args.command == "serve":
        serve("bc_gateway.wsgi:app", "bc_gateway.gunicorn_conf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
