"""The scheduled work: which CronJobs exist, what they run, how often, and how they are bounded.

A poll or renewal that overlaps itself, piles up after an outage or hangs forever would do more
harm than a missed run, so every CronJob forbids concurrency, skips runs it could not start in
time, has a deadline per run and keeps a bounded history.
"""

from __future__ import annotations

from typing import Any

# name -> (command, minutes between runs)
EXPECTED = {
    "stripe-gateway-poll": (["stripe-gateway", "poll", "--since-minutes", "30"], 15),
    "bc-gateway-poll-invoices": (["bc-gateway", "poll-invoices", "--since-minutes", "30"], 15),
    "bc-gateway-renew-subscriptions": (["bc-gateway", "renew-subscriptions"], 12 * 60),
    "reconciler-drift-check": (["reconciler", "drift-check", "--lookback-days", "35"], 24 * 60),
}


def _interval_minutes(schedule: str) -> int:
    """The period of the schedules used: `<m>/15 * * * *`, `<m> */12 * * *`, `<m> <h> * * *`."""
    minute, hour, day, month, weekday = schedule.split()
    assert (day, month, weekday) == ("*", "*", "*"), schedule
    if "/" in minute:
        assert hour == "*", schedule
        return int(minute.split("/")[1])
    assert minute.isdigit(), schedule
    if hour.isdigit():
        return 24 * 60
    assert hour.startswith("*/"), schedule
    return int(hour[2:]) * 60


def test_the_expected_cronjobs_run_the_expected_commands(overlay: Any) -> None:
    cronjobs = {c["metadata"]["name"]: c for c in overlay.of_kind("CronJob")}
    assert set(cronjobs) == set(EXPECTED)
    for name, (command, minutes) in EXPECTED.items():
        spec = cronjobs[name]["spec"]
        (container,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["command"] + container["args"] == command, name
        assert _interval_minutes(spec["schedule"]) == minutes, name
        assert spec["timeZone"] == "Etc/UTC", name


def test_every_cronjob_is_bounded(overlay: Any) -> None:
    for cronjob in overlay.of_kind("CronJob"):
        name, spec = cronjob["metadata"]["name"], cronjob["spec"]
        job = spec["jobTemplate"]["spec"]
        interval_s = _interval_minutes(spec["schedule"]) * 60
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert 0 < spec["startingDeadlineSeconds"] <= interval_s, name
        assert 0 < job["activeDeadlineSeconds"] < interval_s, name
        assert 0 < spec["successfulJobsHistoryLimit"] <= 5, name
        assert 0 < spec["failedJobsHistoryLimit"] <= 10, name
        assert 0 <= job["backoffLimit"] <= 3, name
        assert job["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure"), name


def test_poll_windows_overlap_their_interval(overlay: Any) -> None:
    """A window longer than the interval means a late or failed run loses nothing."""
    for cronjob in overlay.of_kind("CronJob"):
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        args = container["args"]
        if "--since-minutes" in args:
            window = int(args[args.index("--since-minutes") + 1])
            assert window >= 2 * _interval_minutes(cronjob["spec"]["schedule"])
