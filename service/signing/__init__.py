"""Signed bundles: the format of productions and disposal certificates."""
