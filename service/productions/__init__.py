"""Legal productions of a hold's items: built in the background, signed, verifiable offline."""
