"""The authorization matrix both gateways are held to: every route × every kind of caller.

Routes come from the app's own URL map, so a route added later is in the matrix without anyone
remembering to add it. Each route is tried with no credential, with each kind of wrong
credential (forged, expired, for the other gateway, signed by a key nobody published, algorithm
tricks), as a published caller the policy grants nothing ("wrong caller"), and as the
reconciler. Webhooks carry their own proof and the probes and the API description are open; every
other route is a command.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
from factories import AUDITOR_KEY
from factories import RECONCILER_KEY
from factories import UNPUBLISHED_KEY
from factories import service_token
from flask import Flask
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Rule

from mlconnector.service_auth import OPEN_BLUEPRINTS
from mlconnector.service_auth import WEBHOOK_BLUEPRINT

SAMPLE_ID = "5d115c9c-44e3-ea11-bb43-000d3a2feca1"


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: str

    @property
    def blueprint(self) -> str:
        return self.endpoint.rpartition(".")[0]

    @property
    def is_command(self) -> bool:
        return self.blueprint not in (*OPEN_BLUEPRINTS, WEBHOOK_BLUEPRINT)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _sample_path(rule: Rule) -> str:
    values: dict[str, object] = {
        name: 1 if isinstance(rule._converters[name], IntegerConverter) else SAMPLE_ID
        for name in rule.arguments
    }
    built = rule.build(values, append_unknown=False)
    assert built is not None
    return built[1]


def routes(app: Flask) -> Iterator[Route]:
    """Every (method, route) the app serves, with sample path arguments."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield Route(method, _sample_path(rule), rule.endpoint)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _flip(signature: str) -> str:
    """The signature with one character changed (not the last, whose low bits may be padding)."""
    replacement = "A" if signature[-2] != "A" else "B"
    return signature[:-2] + replacement + signature[-1]


def wrong_credentials(audience: str, other_audience: str) -> dict[str, str]:
    """Authorization header values that must each be refused with 401."""
    now = int(time.time())
    genuine = service_token(audience)
    head, body, signature = genuine.split(".")
    tampered_claims = {**jwt.decode(genuine, options={"verify_signature": False}), "sub": "x"}
    public = RECONCILER_KEY.public_jwk()["x"]
    return {
        "not bearer": f"Basic {base64.b64encode(b'reconciler:secret').decode()}",
        "empty bearer": "Bearer ",
        "not a jwt": "Bearer not-a-token",
        "expired": "Bearer " + service_token(audience, iat=now - 900, nbf=now - 900, exp=now - 600),
        "other gateway": "Bearer " + service_token(other_audience),
        "unpublished key": "Bearer " + service_token(audience, key=UNPUBLISHED_KEY),
        "tampered claims": f"Bearer {head}.{_b64(tampered_claims)}.{signature}",
        "flipped signature": f"Bearer {head}.{body}.{_flip(signature)}",
        "alg none": f"Bearer {_b64({'alg': 'none', 'kid': RECONCILER_KEY.kid})}.{body}.",
        "hs256 with the public key": "Bearer "
        + jwt.encode(
            jwt.decode(genuine, options={"verify_signature": False}),
            public,
            algorithm="HS256",
            headers={"kid": RECONCILER_KEY.kid},
        ),
        "lives too long": "Bearer " + service_token(audience, exp=now + 3600),
        "no jti": "Bearer " + service_token(audience, jti=None),
        "issued in the future": "Bearer "
        + service_token(audience, iat=now + 600, nbf=now, exp=now + 900),
        "speaks for another caller": "Bearer "
        + service_token(audience, key=AUDITOR_KEY, sub="reconciler", iss="reconciler"),
    }


def wrong_caller(audience: str) -> str:
    """A valid token of a published caller that the default policy grants nothing."""
    return "Bearer " + service_token(audience, key=AUDITOR_KEY)


def right_caller(audience: str) -> str:
    return "Bearer " + service_token(audience)
