"""Progress notes on goals: append-only, shared with the care team and patient or internal to a side."""
