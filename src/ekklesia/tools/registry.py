"""Tools by name: the built-ins and those a user registers, as specs and agents name them.

A spec's ``tools: ["python_sandbox", "sql"]`` names registered tools; an import path
(``"package.module:my_tool"``) names a :class:`~ekklesia.tools.base.Tool` defined anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ekklesia.core.imports import load
from ekklesia.errors import SpecError
from ekklesia.tools.base import Tool

__all__ = ["get_tool", "register_tool", "registered_tools", "resolve_tools"]

_registry: dict[str, Tool[Any]] = {}


def register_tool(tool: Tool[Any]) -> Tool[Any]:
    """Make ``tool`` known by its name; replaces a tool of the same name."""
    if not isinstance(tool, Tool):
        raise SpecError(f"only an ek.Tool can be registered, got {tool!r}")
    _registry[tool.name] = tool
    return tool


def registered_tools() -> dict[str, Tool[Any]]:
    return dict(sorted(_registry.items()))


def get_tool(name: str | Tool[Any]) -> Tool[Any]:
    """The tool a name or an import path names; a tool passes through."""
    if isinstance(name, Tool):
        return name
    if name in _registry:
        return _registry[name]
    if ":" in name:
        found = load(name, what="tool")
        if isinstance(found, Tool):
            return found
        raise SpecError(f"{name!r} is not an ek.Tool")
    known = ", ".join(_registry) or "none"
    raise SpecError(f"unknown tool {name!r} (registered: {known}; or give 'module:tool')")


def resolve_tools(tools: Iterable[str | Tool[Any]]) -> dict[str, Tool[Any]]:
    """Tools by name, in the order given; a name given twice is a mistake worth saying."""
    out: dict[str, Tool[Any]] = {}
    for item in tools:
        found = get_tool(item)
        if found.name in out:
            raise SpecError(f"tool {found.name!r} is given twice")
        out[found.name] = found
    return out
