"""One thin sync wrapper at the edge: ekklesia is async inside."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ekklesia.errors import UserError

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T], called: str, instead: str) -> T:
    """Run ``coro`` to the end from sync code; inside a running loop, say what to call instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise UserError(f"{called} was called inside a running event loop: use `{instead}`")
