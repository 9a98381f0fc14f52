"""The gateway's business logic: what each command does with Stripe (views only translate).

``customers`` matches or creates the Stripe customer of a BC customer, ``invoices`` pushes a BC
invoice (draft, lines, total check, finalize) and changes invoice states, ``recovery`` finds the
invoice an earlier push made for a BC invoice (and deletes a stray draft), ``reads`` returns the
authoritative state the reconciler re-fetches. Functions take the Stripe adapter as a parameter
and raise typed errors (``StripeCallError``, ``mlconnector.web.ApiError``) that the API edge
translates once.
"""
