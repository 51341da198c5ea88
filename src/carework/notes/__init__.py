"""Progress notes on goals: append-only; shared with team and patient, or internal to a side."""
