"""keepline streams."""
