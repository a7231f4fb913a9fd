"""Subject rights: consent, objection, restriction, erasure and export."""
