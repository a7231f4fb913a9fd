"""Legal holds: place, preview, release, and the items they cover."""
