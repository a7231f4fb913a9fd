"""Proof of disposal: tombstones by date and the signed daily certificate."""
