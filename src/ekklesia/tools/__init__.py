"""Tools agents call through ``ctx.call_tool``: typed, recorded, replayable.

Built in: ``memory_search`` (the swarm's memory tiers) and ``python_sandbox`` (untrusted code and
its tests in a contained child process: ``await ek.tools.python_sandbox(code, tests="",
timeout_s=10.0)`` returns a :class:`SandboxResult` with ``exit_code``, ``stdout``, ``stderr``,
``passed``, ``timed_out`` and ``duration_s``) and ``sql`` (one read-only query over a DuckDB or
SQLite file: ``await ek.tools.sql(database, query)`` returns the rows, a :class:`SqlResult`).
Define your own with :func:`tool` and make them
known by name with :func:`register_tool`.
"""

from ekklesia.tools.base import Tool, ToolContext, ToolResult, tool
from ekklesia.tools.memory_search import MemoryHit, memory_search
from ekklesia.tools.registry import get_tool, register_tool, registered_tools, resolve_tools
from ekklesia.tools.sandbox import SandboxLimits, SandboxResult, run_python
from ekklesia.tools.sql import SqlResult
from ekklesia.tools.sql import query as _query

#: Runs code (and its tests) in the sandbox; its own ``timeout_s`` bounds the run.
python_sandbox: Tool[SandboxResult] = Tool(run_python, name="python_sandbox", timeout_s=None)


async def _sql(
    database: str, query: str, max_rows: int = 1000, timeout_s: float = 30.0
) -> SqlResult:
    """Run one read-only SQL query (SELECT, WITH, EXPLAIN, ...) over a DuckDB or SQLite file."""
    return await _query(database, query, max_rows=max_rows, timeout_s=timeout_s)


#: One read-only query over a DuckDB or SQLite file; writes of any kind are refused.
sql: Tool[SqlResult] = Tool(_sql, name="sql", timeout_s=None)

register_tool(memory_search)
register_tool(python_sandbox)
register_tool(sql)

__all__ = [
    "MemoryHit",
    "SandboxLimits",
    "SandboxResult",
    "SqlResult",
    "Tool",
    "ToolContext",
    "ToolResult",
    "get_tool",
    "memory_search",
    "python_sandbox",
    "register_tool",
    "registered_tools",
    "resolve_tools",
    "sql",
    "tool",
]
