"""Envelope encryption: the segment cipher, the key ring of key-encryption keys, the vault."""
