"""Task suites: ``ek.tasks.arithmetic(n, seed)`` and the :class:`Task` model."""

from ekklesia.core.task import Task
from ekklesia.tasks.arithmetic import arithmetic

__all__ = ["Task", "arithmetic", "suite"]


def suite(name: str, n: int, seed: int = 0) -> list[Task]:
    """Tasks of a named suite, for the CLI."""
    from ekklesia.errors import SpecError

    suites = {"arithmetic": arithmetic}
    if name not in suites:
        raise SpecError(f"unknown task suite {name!r} (known: {', '.join(sorted(suites))})")
    return suites[name](n=n, seed=seed)
