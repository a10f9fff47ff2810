"""Rate limits per key and per business, and the limits on one operation."""
