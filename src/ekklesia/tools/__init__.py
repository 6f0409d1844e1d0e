"""Tools agents call through ``ctx.call_tool``: typed, recorded, replayable.

Built in: ``memory_search`` (the swarm's memory tiers), and — when their modules are present —
``python_sandbox`` (untrusted code in a contained child process) and ``sql`` (read-only queries
over DuckDB or SQLite). Define your own with :func:`tool` and make them known by name with
:func:`register_tool`.
"""

from ekklesia.tools.base import Tool, ToolContext, ToolResult, tool
from ekklesia.tools.memory_search import MemoryHit, memory_search
from ekklesia.tools.registry import get_tool, register_tool, registered_tools, resolve_tools

register_tool(memory_search)

__all__ = [
    "MemoryHit",
    "Tool",
    "ToolContext",
    "ToolResult",
    "get_tool",
    "memory_search",
    "register_tool",
    "registered_tools",
    "resolve_tools",
    "tool",
]
