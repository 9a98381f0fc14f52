"""HTTP clients for the two gateways' command APIs (the reconciler never calls BC or Stripe)."""
