"""Adapters to the outside world: the Entra token provider and the Business Central client."""
