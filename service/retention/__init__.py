"""Retention: the sweeper, destruction, and the Object Lock state kept in line."""
