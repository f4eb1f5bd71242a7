"""Shared test configuration: hypothesis profiles.

The default profile is deterministic (derandomized) and small enough for the
whole suite to stay within a few minutes on 2 cores.  Long randomized runs use
``python -m pytest --hypothesis-profile=fuzz``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("default")
