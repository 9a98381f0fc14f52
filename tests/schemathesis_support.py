"""What the three Schemathesis modules share: bounds, expectations and the app they call.

Schemathesis builds its tests when a module is imported, from the description alone, while each
test builds its own app from fixtures; ``CurrentApp`` routes the generated requests (and the ones
Schemathesis' checks send again) to the app of the test that is running.

Generation is bounded and reproducible: a fixed seed, Hypothesis derandomized and without an
example database (nothing is written into the working tree), no stateful phase. The tests send
the credentials themselves (or none), so Schemathesis generates no security parameters. An
operation whose description lists what a schema-valid request can still be refused for
(``x-also-refused``, per status) may answer such a request so; nothing else is added to the
expectations. Without credentials every unrouted request, an undeclared method on an open path
included, is 401 by design (a guard never tells an anonymous caller which routes exist), so the
check that expects 405 there is off in that run.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.schemas import OpenApiSchema

Case = schemathesis.Case[APIOperation[Any, Any, Any, Any]]

POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def schemathesis_config(
    document: Mapping[str, Any], *, anonymous: bool, operations: Iterable[Mapping[str, Any]] = ()
) -> schemathesis.Config:
    """Generation bounds and checks; per operation, the refusals its description declares,
    plus any ``operations`` settings a module adds."""
    declared = [
        {
            "include-operation-id": op["operationId"],
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [*POSITIVE_STATUSES, *op["x-also-refused"]]
                }
            },
        }
        for item in document["paths"].values()
        for op in item.values()
        if op.get("x-also-refused")
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": 34,
            "generation": {
                "mode": "all",
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"unsupported_method": {"enabled": not anonymous}},
            "operations": [*declared, *operations],
        }
    )


class CurrentApp:
    """The WSGI app of the running test (set by a fixture, cleared after it)."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "no app for this test"
        return self.app(environ, start_response)


def schemas(
    document: Mapping[str, Any], operations: Iterable[Mapping[str, Any]] = ()
) -> tuple[OpenApiSchema, OpenApiSchema, CurrentApp]:
    """The schema for the run with credentials, the one without, and where both send requests."""
    current = CurrentApp()
    extra = list(operations)
    with_credentials = schemathesis.openapi.from_dict(
        dict(document), config=schemathesis_config(document, anonymous=False, operations=extra)
    )
    anonymous = schemathesis.openapi.from_dict(
        dict(document), config=schemathesis_config(document, anonymous=True, operations=extra)
    )
    with_credentials.app = anonymous.app = current
    return with_credentials, anonymous, current


def undeclared_method(case: Case) -> bool:
    """A method the operation does not declare (Flask answers OPTIONS itself); Schemathesis
    checks those answers on its own."""
    return case.method.upper() != case.operation.method.upper()
