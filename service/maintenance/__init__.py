"""Maintenance: the object store and the catalog made to agree, and key rotation."""
