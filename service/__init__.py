"""The application layer: one folder per use case, each talking only to ports and `policies`."""
