"""The demo's closing summary: what moved, what needs a person, where to look."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.money import exponent


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
