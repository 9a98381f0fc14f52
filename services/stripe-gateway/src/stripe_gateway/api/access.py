"""Who may use which stripe-gateway command: the permission each endpoint needs.

One table, read by the guard (``mlconnector.service_auth``) and by the authorization tests.
Reading Stripe objects (``stripe:read``) is kept apart from changing them (``stripe:write``:
customers, invoices, voids, deleted drafts, out-of-band payments, and the BC references a
person's match writes on a charge). The connection report (``stripe:diagnose``) shows how the
gateway is set up (key, account, webhook endpoints) rather than Stripe objects, so a reader is
not granted it by ``stripe:read``. An endpoint missing here is refused to every caller.
"""

from __future__ import annotations

READ = "stripe:read"
WRITE = "stripe:write"
DIAGNOSE = "stripe:diagnose"

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
    "charges.bc_references": WRITE,
    "disputes.read": READ,
    "balance.balance": READ,
    "balance.transactions": READ,
    "balance.payouts": READ,
    "payouts.read": READ,
    "payouts.balance_transactions": READ,
    "connection.connection": DIAGNOSE,
}
