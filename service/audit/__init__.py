"""The audit trail's signed checkpoints: when to sign the chain head."""
