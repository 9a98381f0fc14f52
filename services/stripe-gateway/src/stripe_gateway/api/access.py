"""Who may use which stripe-gateway command: the permission each endpoint needs.

One table, read by the guard (``mlconnector.service_auth``) and by the authorization tests.
Reading Stripe objects (``stripe:read``) is kept apart from changing them (``stripe:write``:
customers, invoices, voids, deleted drafts and out-of-band payments). An endpoint missing here
is refused to every caller.
"""

from __future__ import annotations

READ = "stripe:read"
WRITE = "stripe:write"

PERMISSIONS: dict[str, str] = {
    "customers.ensure": WRITE,
    "invoices.push": WRITE,
    "invoices.read": READ,
    "invoices.find_by_bc": READ,
    "invoices.delete_draft": WRITE,
    "invoices.void": WRITE,
    "invoices.mark_paid_out_of_band": WRITE,
    "invoices.credit": WRITE,
    "invoices.paid_elsewhere": WRITE,
    "invoices.send": WRITE,
    "charges.read": READ,
    "charges.invoice_payment": READ,
    "disputes.read": READ,
    "balance.balance": READ,
    "balance.transactions": READ,
    "balance.payouts": READ,
    "payouts.read": READ,
    "payouts.balance_transactions": READ,
}
