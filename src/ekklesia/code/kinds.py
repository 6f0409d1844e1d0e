"""The seven kinds of code task, one per software pattern: the suites build them, the simulated
team answers them, the patterns are named after them."""

from __future__ import annotations

__all__ = ["KINDS"]

KINDS: tuple[str, ...] = (
    "feature_development",
    "bug_fix",
    "code_review",
    "testing",
    "documentation",
    "refactoring",
    "optimization",
)
