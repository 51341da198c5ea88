"""Bearer token verification and the per-request Principal."""
