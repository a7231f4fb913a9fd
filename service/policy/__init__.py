"""Policy versions: activate (audited), plan and apply a new version to stored items."""
