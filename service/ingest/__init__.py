"""Ingest: one artefact event in, exactly one encrypted, catalogued item out."""
