"""Fixtures shared by every test folder, and the one Hypothesis profile of the suite."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.integration.fixtures_keepline", "tests.shared_stack"]

# The suite must pass on a loaded two-core machine: generation speed and per-example time
# depend on the load, not on the code, so neither fails a test (the properties still do).
settings.register_profile(
    "keepline",
    deadline=None,
    # The catalog contracts run one property test from a class per catalog, on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
settings.load_profile("keepline")
