"""``mlc-secrets identity``: create, rotate, list and retire the service identity keys.

The steps of a rotation without downtime, in the order that keeps every call accepted:

1. ``rotate`` publishes the new public key in the key set (``ml-connector/identity``) *first*,
   then stores the new private key for the caller (``ml-connector/reconciler``,
   ``identity_key``). Gateways accept the new key from its first use (an unknown key id makes
   them re-read the set) and the old one until it is retired; the caller switches to the new
   key within a minute (it re-reads its key every 60 s).
2. ``retire KID`` removes a public key from the set once nothing signs with it (wait at least
   the caller's re-read interval plus a token's lifetime, about 6 minutes, after ``rotate``).
   Gateways stop accepting it within a minute. Retiring is also how a leaked key is revoked:
   ``rotate`` then ``retire`` at once (calls signed with the old key fail until the caller has
   re-read its key, and are retried).

Only public keys go in the key set; the private key is written to the caller's own path, which
only that caller (and the administrator running this command) may read.
"""

from __future__ import annotations

import argparse
import datetime
import json

from mlconnector.identity import IDENTITY_PATH
from mlconnector.identity import JWKS_KEY
from mlconnector.identity import SIGNING_KEY
from mlconnector.identity import SigningKey
from mlconnector.identity import jwks_document
from mlconnector.identity import parse_jwks
from mlconnector.secrets import SecretNotFound
from mlconnector.secrets import SecretStore
from mlconnector.secrets import validate_path

DEFAULT_CALLER = "reconciler"
DEFAULT_CALLER_PATH = "ml-connector/reconciler"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``identity rotate|list|retire`` on the ``mlc-secrets`` parser."""
    identity = commands.add_parser(
        "identity",
        help="the service identity keys (rotate, list, retire)",
        description="Service identity keys: the reconciler signs its calls to the gateways.",
    )
    actions = identity.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate", help="create a new key: publish its public half, then give it to the caller"
    )
    rotate.add_argument("--caller", default=DEFAULT_CALLER, help="the caller's name (reconciler)")
    rotate.add_argument(
        "--path", default=DEFAULT_CALLER_PATH, help="the caller's secret path for its private key"
    )
    actions.add_parser("list", help="list the published public keys")
    retire = actions.add_parser("retire", help="remove a public key: calls signed with it fail")
    retire.add_argument("kid", metavar="KID", help="the key id shown by 'identity list'")


def _published(store: SecretStore) -> list[dict[str, object]]:
    try:
        text = store.read(IDENTITY_PATH).get(JWKS_KEY)
    except SecretNotFound:
        return []
    if not text:
        return []
    parse_jwks(text)  # refuse to extend a set that is already broken
    entries: list[dict[str, object]] = json.loads(text)["keys"]
    return entries


def run(store: SecretStore, args: argparse.Namespace) -> int:
    """Carry out one ``identity`` action; return the exit code."""
    if args.action == "rotate":
        return _rotate(store, args.caller, validate_path(args.path))
    if args.action == "list":
        return _list(store)
    return _retire(store, args.kid)


def _rotate(store: SecretStore, caller: str, path: str) -> int:
    key = SigningKey.generate(caller)
    entries = _published(store)
    store.write(IDENTITY_PATH, {JWKS_KEY: jwks_document([*entries, key.public_jwk()])})
    store.write(path, {SIGNING_KEY: key.to_json()})
    print(f"{IDENTITY_PATH}: published key {key.kid} for {caller}")
    print(f"{path}: {SIGNING_KEY} set; {caller} signs with it within a minute")
    others = [str(entry.get("kid")) for entry in entries if entry.get("sub") == caller]
    for kid in others:
        print(
            f"still trusted: {kid}; retire it after about 6 minutes: mlc-secrets identity "
            f"retire {kid}"
        )
    return 0


def _list(store: SecretStore) -> int:
    entries = _published(store)
    if not entries:
        print(f"{IDENTITY_PATH}: no keys (create one with: mlc-secrets identity rotate)")
    for entry in entries:
        created = datetime.datetime.fromtimestamp(int(str(entry.get("iat", 0))), datetime.UTC)
        print(f"{entry.get('kid')}  caller={entry.get('sub')}  created={created:%Y-%m-%d %H:%M}Z")
    return 0


def _retire(store: SecretStore, kid: str) -> int:
    entries = _published(store)
    remaining = [entry for entry in entries if entry.get("kid") != kid]
    if len(remaining) == len(entries):
        raise SecretNotFound(f"no published key {kid!r} at {IDENTITY_PATH}")
    store.write(IDENTITY_PATH, {JWKS_KEY: jwks_document(remaining)})
    print(f"{IDENTITY_PATH}: retired key {kid}; gateways refuse it within a minute")
    return 0
