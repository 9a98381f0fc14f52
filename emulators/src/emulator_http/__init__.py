"""HTTP plumbing shared by the BC and Stripe emulators."""
