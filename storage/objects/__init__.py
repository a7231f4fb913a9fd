"""Object-store adapters: MinIO (S3 with Object Lock) and a filesystem store for development."""
