"""Resolving the user classes a spec names (``"package.module:Class.Inner"``).

Specs and timelines name user-defined agents, population kinds and patterns by import path, so a
run can be rebuilt in another process (a replay, a Ray job, the HTTP front).
One resolver, one error.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from ekklesia.errors import SpecError

__all__ = ["import_path", "load", "resolve"]

T = TypeVar("T")


def import_path(obj: object) -> str:
    """The ``module:qualname`` of a class or function, as :func:`resolve` reads it back."""
    return f"{obj.__module__}:{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def load(path: str, *, what: str) -> object:
    """The object at ``"package.module:name"``; a :class:`SpecError` naming ``what`` otherwise."""
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise SpecError(f"{what} {path!r} is not an import path: write 'package.module:name'")
    try:
        found: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"cannot load {what} {path!r}: {exc}") from exc
    return found


def resolve(path: str, expected: type[T], *, what: str) -> type[T]:
    """The subclass of ``expected`` at ``path``; a :class:`SpecError` naming ``what`` otherwise."""
    found = load(path, what=what)
    if not (isinstance(found, type) and issubclass(found, expected)):
        raise SpecError(f"{what} {path!r} is not a {expected.__name__}")
    return found
