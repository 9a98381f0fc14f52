"""Adapters: the concrete clients of the outside world (only the Stripe SDK here)."""
