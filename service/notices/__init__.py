"""Notices the privacy team owes: restriction lifting, and recipients to inform."""
