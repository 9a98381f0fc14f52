"""Business Central API emulator (work in progress)."""
