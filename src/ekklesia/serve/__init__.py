"""The HTTP front on Ray Serve: runs with live events, OpenAI-compatible embeddings, memory, health.

``serve run ekklesia.serve:app`` (or ``ekklesia serve``) deploys :data:`app`, the graph
:func:`~ekklesia.serve.application.build_app` binds. Every route but ``/health`` needs an API key
(``ekklesia keys create``); see :mod:`ekklesia.serve.access`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "build_app"]


def build_app(*args: Any, **kwargs: Any) -> Any:
    from ekklesia.serve.application import build_app as build

    return build(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "app":  # bound on first use, so importing the package deploys nothing
        return build_app()
    raise AttributeError(f"module 'ekklesia.serve' has no attribute {name!r}")
