"""``mlc-secrets``: the operator command that adds, shows and lists credentials.

This is how a user "adds their credentials": ``mlc-secrets set ml-connector/stripe api_key`` asks
for the value without echoing it (or reads one line from standard input when it is not a
terminal), so secrets stay out of shell history and process lists; ``KEY=VALUE`` is accepted for
scripts. ``show`` never prints a value, only a redacted preview (``sk_t…(32 chars)``) that lets an
operator tell which key is configured. The store is the one the services use, chosen by the same
``MLC_*`` variables (``mlconnector.secrets.SecretsSettings``).

Exit codes: 0 success, 1 path or key not found, 2 usage or configuration error, 3 store
unavailable, access denied or file not decryptable.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from mlconnector import identity_cli
from mlconnector.config import ConfigError
from mlconnector.identity import IdentityError
from mlconnector.redaction import redact
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretsSettings
from mlconnector.secrets import SecretStore
from mlconnector.secrets import SecretStoreError
from mlconnector.secrets import build_secret_store
from mlconnector.secrets import validate_path
from mlconnector.secrets import validate_values

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_STORE = 3

# Values shorter than this show no characters at all: four characters of a short password would
# give away too much of it.
_PREVIEW_MIN_LENGTH = 12
_PREVIEW_CHARS = 4

_EPILOG = """\
The store is chosen by MLC_SECRETS_BACKEND (file | vault). File: MLC_SECRETS_FILE,
MLC_MASTER_KEY. Vault: MLC_VAULT_ADDR, MLC_VAULT_AUTH (token | kubernetes), MLC_VAULT_TOKEN or
MLC_VAULT_ROLE, MLC_VAULT_MOUNT, MLC_VAULT_CACERT.
"""


def redacted(value: str) -> str:
    """A preview that identifies a value without revealing it: ``sk_t…(32 chars)``."""
    shown = value[:_PREVIEW_CHARS] if len(value) >= _PREVIEW_MIN_LENGTH else ""
    return f"{shown}…({len(value)} chars)"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlc-secrets",
        description="Set, show and list ml-connector credentials.",
        epilog=_EPILOG,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    set_cmd = commands.add_parser(
        "set",
        help="set keys at a path (KEY alone prompts for the value)",
        description="Set keys at PATH, keeping its other keys. KEY alone reads the value with a "
        "hidden prompt, or one line from standard input when that is not a terminal.",
    )
    set_cmd.add_argument("path", metavar="PATH", help="e.g. ml-connector/stripe")
    set_cmd.add_argument("items", nargs="+", metavar="KEY[=VALUE]")
    set_cmd.add_argument("--replace", action="store_true", help="drop the keys not given here")
    show_cmd = commands.add_parser("show", help="show the keys at a path, values redacted")
    show_cmd.add_argument("path", metavar="PATH")
    commands.add_parser("list", help="list the secret paths")
    delete_cmd = commands.add_parser("delete", help="remove keys from a path")
    delete_cmd.add_argument("path", metavar="PATH")
    delete_cmd.add_argument("keys", nargs="+", metavar="KEY")
    commands.add_parser("check", help="check that the store is reachable and readable")
    identity_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit code (the console script passes it to ``sys.exit``)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        store = build_secret_store(SecretsSettings.from_env())
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        return _COMMANDS[args.command](store, args)
    except SecretNotFound as exc:
        return _fail(str(exc), EXIT_NOT_FOUND)
    except SecretStoreError as exc:
        return _fail(str(exc), EXIT_STORE)
    except IdentityError as exc:  # a key set or key that cannot be used as it stands
        return _fail(str(exc), EXIT_USAGE)
    except ValueError as exc:  # invalid path, key or value given by the operator
        return _fail(str(exc), EXIT_USAGE)
    finally:
        store.close()


def _fail(message: str, code: int) -> int:
    print(f"mlc-secrets: error: {redact(message)}", file=sys.stderr)
    return code


def _set(store: SecretStore, args: argparse.Namespace) -> int:
    path = validate_path(args.path)
    values: dict[str, str] = {}
    for item in args.items:
        key, sep, value = item.partition("=")
        values[key] = value if sep else _ask(path, key)
        if not values[key]:
            raise ValueError(f"empty value for {key!r}")
    store.write(path, validate_values(values), replace=args.replace)
    print(f"{path}: set {', '.join(sorted(values))}")
    return EXIT_OK


def _ask(path: str, key: str) -> str:
    """Read a value without it appearing in argv: hidden prompt on a terminal, else one line."""
    validate_values({key: ""})  # reject a bad key before asking for its value
    if sys.stdin.isatty():
        return getpass.getpass(f"value for {key} at {path}: ")
    line = sys.stdin.readline()
    if not line:
        raise ValueError(f"no value for {key!r} on standard input")
    return line.rstrip("\r\n")


def _show(store: SecretStore, args: argparse.Namespace) -> int:
    values = store.read(validate_path(args.path))
    print(args.path)
    if not values:
        print("  (no keys)")
    width = max((len(key) for key in values), default=0)
    for key in sorted(values):
        print(f"  {key:<{width}}  {redacted(values[key])}")
    return EXIT_OK


def _list(store: SecretStore, args: argparse.Namespace) -> int:
    for path in store.list_paths():
        print(path)
    return EXIT_OK


def _delete(store: SecretStore, args: argparse.Namespace) -> int:
    path = validate_path(args.path)
    values = store.read(path)
    missing = sorted(set(args.keys) - set(values))
    if missing:
        raise SecretNotFound(f"{path} has no key(s) {', '.join(missing)}")
    remaining = {key: value for key, value in values.items() if key not in args.keys}
    store.write(path, remaining, replace=True)
    print(f"{path}: deleted {', '.join(sorted(set(args.keys)))}")
    return EXIT_OK


def _check(store: SecretStore, args: argparse.Namespace) -> int:
    store.check()
    print("secret store is ready")
    return EXIT_OK


_COMMANDS: dict[str, Callable[[SecretStore, argparse.Namespace], int]] = {
    "set": _set,
    "show": _show,
    "list": _list,
    "delete": _delete,
    "check": _check,
    "identity": identity_cli.run,
}


if __name__ == "__main__":
    sys.exit(main())
