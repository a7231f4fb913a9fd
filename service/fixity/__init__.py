"""Integrity passes: every object read back and checked against the catalog, and the bucket."""
