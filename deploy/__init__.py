"""keepline deploy."""
