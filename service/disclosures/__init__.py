"""The register of disclosures to third parties: entered by legal, read for subjects' rights."""
