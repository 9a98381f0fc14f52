"""A request an app's own guard vouched for: its 403 is a refused permission, not a failed login.

The auth-failures budget exists to stop guessing credentials. A signed-in person refused a page
their role does not allow proved who they are; counting that would let colleagues behind one
office address lock each other out. Real Flask-Limiter with in-memory storage, a tiny budget.
"""

from __future__ import annotations

from flask import Flask
from flask import abort

from mlconnector.config import EnvReader
from mlconnector.ratelimit import RateLimitSettings
from mlconnector.ratelimit import install_api_limits
from mlconnector.ratelimit import vouch_for_request
from mlconnector.runtime import CommonSettings

BUDGET = {"MLC_RATELIMIT_AUTH_FAILURES": "3/minute", "MLC_RATELIMIT_API": "1000/minute"}


def app() -> Flask:
    built = Flask("vouching")

    @built.get("/signed-in-but-not-allowed")
    def vouched() -> str:
        vouch_for_request("oid-of-a-viewer")
        abort(403)

    @built.get("/nobody-vouched")
    def not_vouched() -> str:
        abort(403)

    common = CommonSettings.from_reader(EnvReader({"MLC_ENVIRONMENT": "test", **BUDGET}))
    install_api_limits(built, common, limits=RateLimitSettings.from_env(BUDGET))
    return built


def test_a_vouched_requests_403_never_uses_the_auth_failure_budget() -> None:
    client = app().test_client()
    assert [client.get("/signed-in-but-not-allowed").status_code for _ in range(8)] == [403] * 8


def test_an_unvouched_403_still_counts_as_a_failed_authentication() -> None:
    client = app().test_client()
    assert [client.get("/nobody-vouched").status_code for _ in range(5)] == [403] * 3 + [429] * 2
