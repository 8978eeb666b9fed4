"""Feature specs, the Redis store (profiles, velocity), the per-level executor and the offline Polars twin."""
