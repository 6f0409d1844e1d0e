"""The one place ekklesia touches Ray's process-level API: starting or joining a cluster."""

from __future__ import annotations

import logging
import os

import ray

__all__ = ["ensure_ray", "ray_cpus"]


def ensure_ray(num_cpus: int | None = None) -> None:
    """Join the cluster at ``RAY_ADDRESS`` (as under ``ray job submit``), else start a local one.

    A local instance gets no dashboard and quiet logs; one already initialised is left as it is.
    """
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if os.environ.get("RAY_ADDRESS"):
        ray.init(logging_level=logging.WARNING, log_to_driver=False)
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )


def ray_cpus() -> int:
    """CPUs the cluster offers (at least 1)."""
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))
