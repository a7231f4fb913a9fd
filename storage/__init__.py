"""keepline storage."""
