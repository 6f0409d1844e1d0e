"""Errors of the memory package, placed in the project's error tree.

::

    UserError
    ├── EmptyMemoryText   a remember, recall or document with nothing in it
    ├── MemoryPathError   a path to index that does not exist or is not readable
    └── MemoryConfigError a memory policy, scope or embedder setting that cannot work
    RunError
    └── MemoryUnavailable a memory actor or embedder kept failing after its retries
"""

from __future__ import annotations

from ekklesia.errors import RunError, UserError

__all__ = ["EmptyMemoryText", "MemoryConfigError", "MemoryPathError", "MemoryUnavailable"]


class EmptyMemoryText(UserError):
    """Text to remember or to search for is empty or only whitespace."""


class MemoryPathError(UserError):
    """A path given to the indexer does not exist or cannot be read."""


class MemoryConfigError(UserError):
    """A memory policy, scope or embedder setting that cannot work."""


class MemoryUnavailable(RunError):
    """A memory actor or the embedder kept failing after its retries."""
