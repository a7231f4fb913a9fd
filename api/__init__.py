"""keepline api."""
