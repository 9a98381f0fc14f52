"""The demo's closing summary: what moved, what needs a person, where to look.

"Explore" gives commands that work as printed, from the directory the demo was started in:
``source`` the run's environment file, then the services' own CLIs (``reconciler records``,
``payouts show`` with ids from this run, the gateways' ``ping``) and a curl of the reconciler
API with the token from that file. It prints the file's path, never the values in it.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from mlc_local.processes import bin_path
from mlc_local.run_dir import display_path
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.money import exponent


def _amount(record: dict[str, Any]) -> str:
    return f"{record.get('amount') or '-'} {str(record.get('currency') or '').upper()}".strip()


def print_summary(
    stack: LocalStack, connector: Connector, elapsed: float, env_file: str, keep_running: bool
) -> None:
    """Print what moved, what needs a person, and how to explore the run (``env_file``: the
    environment file as a person would ``source`` it)."""
    records = connector.records()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_kind.setdefault(record["kind"], []).append(record)
    print(f"\nml-connector demo finished in {elapsed:.0f}s\n")
    titles = {
        "invoice": "Invoices pushed to Stripe",
        "payment": "Payments posted to BC",
        "credit_memo": "BC credit memos reaching Stripe",
        "refund": "Refunds: cash out of the clearing account, the credit memo for a person",
        "dispute": "Disputes",
        "payout": "Payouts reconciled",
    }
    for kind, title in titles.items():
        rows = by_kind.get(kind, [])
        if not rows and kind == "dispute":
            continue
        states = Counter(r["state"] for r in rows)
        print(f"{title}: {len(rows)} ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))})")
        for r in rows:
            flags = {
                k: v for k, v in (r.get("flags") or {}).items() if k not in ("todo", "payment_link")
            }
            print(
                f"  #{r['id']:<4} {r['state']:<10} "
                f"BC {r.get('bc_number') or r.get('bc_ref') or '-':<12}"
                f" Stripe {r.get('stripe_ref') or '-':<30} {_amount(r)}"
                + (f"  flags: {flags}" if flags else "")
            )
    attention = connector.needing_a_person()
    print(f"\nNeeding a person: {len(attention)}")
    for r in attention:
        todo = (r.get("flags") or {}).get("todo") or r.get("last_error")
        print(f"  #{r['id']} {r['kind']} {r['state']}: {todo}")
    print("\nStripe clearing accounts in BC, after the payouts (docs/accounting.md):")
    for currency, (amount, lcy) in connector.clearing_balances().items():
        where = "G/L 10900" if currency == "USD" else f"bank account STRIPE-{currency}"
        shown = amount.quantize(Decimal(1).scaleb(-exponent(currency)))
        in_lcy = lcy.quantize(Decimal("0.01"))
        print(f"  {currency}  {shown:>12} {currency}  ({in_lcy} USD)  on {where}")
    _print_explore(stack, by_kind, env_file, keep_running)


def _cli(name: str) -> str:
    return display_path(Path(bin_path(name)))


def _print_explore(
    stack: LocalStack,
    by_kind: dict[str, list[dict[str, Any]]],
    env_file: str,
    keep_running: bool,
) -> None:
    records = [r for rows in by_kind.values() for r in rows]
    record_id = min((r["id"] for r in records), default=1)
    payout = next((r["stripe_ref"] for r in by_kind.get("payout", []) if r.get("stripe_ref")), None)
    reconciler = _cli("reconciler")
    if keep_running and stack.signin is not None:
        print(f"\nReview console: {stack.console_url()}")
        print("  Sign in as (user name / password, role):")
        for user in stack.signin.users:
            print(f"    {user.user_principal_name:<28} {user.password:<16} {user.role}")
    print(f"\nExplore (the stack's URLs, database, secrets and API token are in {env_file}):")
    print(f"  source {env_file}")
    print(f"  {reconciler} records list --limit 10")
    print(f"  {reconciler} records show {record_id}")
    if payout:
        print(f"  {reconciler} payouts show {payout}")
    if keep_running:
        print(
            '  curl -s -H "Authorization: Bearer $MLC_REPLAY_TOKEN" '
            '"$MLC_RECONCILER_URL/records?limit=5"'
        )
        print(f"  {_cli('stripe-gateway')} ping")
        print(f"  {_cli('bc-gateway')} ping")
        print(f"  BC emulator      {stack.bc.admin}/stats")
        print(f"  Stripe emulator  {stack.stripe.base_url}/_emulator/requests/count")
    else:
        print(
            "  (the records commands read the run's database; the services stop with the demo:"
            " start it with --keep-running to curl them and ping the gateways)"
        )
    print(f"  logs             {display_path(stack.workdir / 'log')}")
