"""Tools agents call through ``ctx.call_tool``: typed, recorded, replayable.

Built in: ``memory_search`` (the swarm's memory tiers) and ``python_sandbox`` (untrusted code and
its tests in a contained child process: ``await ek.tools.python_sandbox(code, tests="",
timeout_s=10.0)`` returns a :class:`SandboxResult` with ``exit_code``, ``stdout``, ``stderr``,
``passed``, ``timed_out`` and ``duration_s``). Define your own with :func:`tool` and make them
known by name with :func:`register_tool`.
"""

from ekklesia.tools.base import Tool, ToolContext, ToolResult, tool
from ekklesia.tools.memory_search import MemoryHit, memory_search
from ekklesia.tools.registry import get_tool, register_tool, registered_tools, resolve_tools
from ekklesia.tools.sandbox import SandboxLimits, SandboxResult, run_python

#: Runs code (and its tests) in the sandbox; its own ``timeout_s`` bounds the run.
python_sandbox: Tool[SandboxResult] = Tool(run_python, name="python_sandbox", timeout_s=None)

register_tool(memory_search)
register_tool(python_sandbox)

__all__ = [
    "MemoryHit",
    "SandboxLimits",
    "SandboxResult",
    "Tool",
    "ToolContext",
    "ToolResult",
    "get_tool",
    "memory_search",
    "python_sandbox",
    "register_tool",
    "registered_tools",
    "resolve_tools",
    "tool",
]
