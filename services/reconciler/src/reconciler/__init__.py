"""The reconciler: consumes the bus, matches BC and Stripe records, posts through the gateways."""

SERVICE = "reconciler"
