"""Fixtures shared by every test folder, and the one Hypothesis profile of the suite."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.integration.fixtures_keepline"]

# The suite must pass on a loaded two-core machine: generation speed and per-example time
# depend on the load, not on the code, so neither fails a test (the properties still do).
settings.register_profile(
    "keepline",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("keepline")
