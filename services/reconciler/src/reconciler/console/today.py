"""Today: what moved, what needs a person, the clearing account, and the last 30 days.

It also lists BC's webhook subscriptions and when they expire: BC drops one three days after its
last renewal, and the connector then hears nothing from BC without any error anywhere. They come
from bc-gateway's ``GET /commands/subscriptions`` (one BC call), not from its connection report
(some fifteen), since every view of the page may need them.
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from reconciler.adapters.http import GatewayRejected
from reconciler.adapters.http import GatewayUnavailable
from reconciler.bootstrap import Dependencies
from reconciler.console.audit import record_person_event
from reconciler.console.connections_data import BC_GATEWAY
from reconciler.console.connections_data import Subscription
from reconciler.console.connections_data import ask_gateways
from reconciler.console.connections_data import is_subscription_list
from reconciler.console.connections_data import listed_subscriptions
from reconciler.console.queue_data import queue_counts
from reconciler.console.reasons import reason_for
from reconciler.console.roles import Role
from reconciler.console.roles import current_person
from reconciler.console.roles import requires
from reconciler.console.settings import ConsoleSettings
from reconciler.console.today_data import load_today
from reconciler.drift import run_drift_check

bp = Blueprint("today", __name__)
# BC's subscriptions change every few days (renewal), and asking costs one BC call: the page
# asks bc-gateway at most once a minute per process (a renewal or a failure shows within that
# minute), and never waits on it for more than a few seconds.
SUBSCRIPTIONS_TTL_S = 60.0
SUBSCRIPTIONS_WAIT_S = 4.0
# What the page waits beyond that: the answer still has to travel.
SUBSCRIPTIONS_GRACE_S = 1.0
_cache: dict[str, tuple[float, list[Subscription] | None, str | None]] = {}
_cache_lock = threading.Lock()


def _subscriptions(deps: Dependencies) -> tuple[list[Subscription] | None, str | None]:
    """BC's webhook subscriptions from bc-gateway's subscription list, or why they are unknown.

    The page waits ``SUBSCRIPTIONS_WAIT_S`` plus a grace; the request itself gives up a second
    after that, so a slow BC costs the page a few seconds and no thread lingers for long. An
    answer or the reason there is none is kept ``SUBSCRIPTIONS_TTL_S``, so a BC outage is not
    asked about again on every view.
    """
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get("bc")
        if cached and now - cached[0] < SUBSCRIPTIONS_TTL_S:
            return cached[1], cached[2]
    wait_s = SUBSCRIPTIONS_WAIT_S + SUBSCRIPTIONS_GRACE_S
    answers = ask_gateways(
        {BC_GATEWAY: lambda: deps.handler_deps.bc.subscriptions(wait_s + 1)},
        wait_s,
        readable=is_subscription_list,
    )
    answer = answers[BC_GATEWAY]
    found = listed_subscriptions(answer.report) if answer.report is not None else None
    problem = None
    if found is None:
        problem = " ".join(p for p in (answer.problem, answer.reason) if p) or "no answer"
    with _cache_lock:
        _cache["bc"] = (now, found, problem)
    return found, problem


@bp.get("/today")
def page() -> str:
    deps: Dependencies = current_app.extensions["reconciler"]
    settings: ConsoleSettings = current_app.extensions["console"]
    subscriptions, subscriptions_problem = _subscriptions(deps)
    with deps.session_factory() as session:
        today = load_today(session, settings.timezone)
        counts = queue_counts(session)
        return render_template(
            "console/today.html",
            today=today,
            counts=counts,
            reason_for=reason_for,
            subscriptions=subscriptions,
            subscriptions_problem=subscriptions_problem,
        )


@bp.post("/today/clearing-check")
@requires(Role.CLERK)
def clearing_check() -> WerkzeugResponse:
    """Run the drift check now (it also runs daily); the figures land on this page."""
    deps: Dependencies = current_app.extensions["reconciler"]
    person = current_person()
    try:
        results = run_drift_check(
            deps.handler_deps, deps.session_factory, lookback_days=35, actor=person.actor
        )
    except (GatewayUnavailable, GatewayRejected) as exc:
        flash(f"The check could not ask BC or Stripe: {exc}", "error")
        return redirect(url_for("console.today.page"))
    record_person_event(
        deps.session_factory,
        person,
        "checked",
        f"{person.name} ran the clearing account check for {len(results)} currency(ies)",
    )
    flash("The clearing account check ran; its figures are below.", "success")
    return redirect(url_for("console.today.page"))
