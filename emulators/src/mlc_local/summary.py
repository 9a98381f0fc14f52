"""The demo's closing summary: what moved, what needs a person, where to look."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack


def _amount(record: dict[str, Any]) -> str:
    return f"{record.get('amount') or '-'} {str(record.get('currency') or '').upper()}".strip()


def print_summary(stack: LocalStack, connector: Connector, elapsed: float) -> None:
    records = connector.records()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_kind.setdefault(record["kind"], []).append(record)
    print(f"\nml-connector demo finished in {elapsed:.0f}s\n")
    titles = {
        "invoice": "Invoices pushed to Stripe",
        "payment": "Payments posted to BC",
        "refund": "Refunds written to the BC refund batch (for review)",
        "payout": "Payouts reconciled",
    }
    for kind, title in titles.items():
        rows = by_kind.get(kind, [])
        states = Counter(r["state"] for r in rows)
        print(f"{title}: {len(rows)} ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))})")
        for r in rows:
            print(
                f"  #{r['id']:<4} {r['state']:<10} "
                f"BC {r.get('bc_number') or r.get('bc_ref') or '-':<12}"
                f" Stripe {r.get('stripe_ref') or '-':<30} {_amount(r)}"
                + (f"  flags: {r['flags']}" if r.get("flags") else "")
            )
    attention = [r for r in records if r["state"] in ("failed", "unmatched")]
    print(f"\nNeeding a person (failed or unmatched): {len(attention)}")
    for r in attention:
        print(f"  #{r['id']} {r['kind']} {r['state']}: {r.get('last_error')}")
    print(f"Stripe clearing account (G/L 10900) balance in BC: {connector.clearing_balance()} USD")
    print(
        "  (what remains on it: refunds waiting for review in batch STRIPEREF, and payments\n"
        "   settled by payouts in other currencies, which are flagged above for manual booking;\n"
        "   the USD payout netted its own payments, fees and transfer to zero)"
    )
    print("\nExplore:")
    print(
        f"  reconciler API   {stack.url('reconciler')}/records"
        "  (Authorization: Bearer <replay token>)"
    )
    print("  one record       reconciler records show <id>   (with the stack's environment)")
    print(f"  bc-gateway       {stack.url('bc-gateway')}/readyz")
    print(f"  stripe-gateway   {stack.url('stripe-gateway')}/readyz")
    print(f"  BC emulator      {stack.bc.admin}/stats")
    print(f"  Stripe emulator  {stack.stripe.base_url}/_emulator/requests/count")
    print(f"  logs             {stack.workdir / 'log'}")
