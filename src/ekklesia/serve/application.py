"""The Ray Serve application: a FastAPI ingress over the runs, embeddings and memory deployments.

``build_app()`` binds the graph: ``Ingress.bind(runs, embeddings, memory, settings)``, each handle
injected into the ingress's constructor. The ingress builds its FastAPI application on its replica
(``__serve_build_asgi_app__``), so the handles reach the routes without globals.
``ekklesia.serve:app`` is ``build_app()`` with the defaults; ``serve.yaml`` sets replicas and
resources for ``serve deploy``.
"""

from __future__ import annotations

import os
from typing import Any, cast

from ray import serve

from ekklesia.serve.api import Backends, Settings, build_asgi
from ekklesia.serve.embeddings import EmbeddingsService
from ekklesia.serve.memory import MemoryService
from ekklesia.serve.runs import RunsService

__all__ = ["Ingress", "build_app"]


@serve.deployment(name="ingress", max_ongoing_requests=1000)
@serve.ingress()
class Ingress:
    """The HTTP front: access checks and routes; the work is done by the injected deployments."""

    def __init__(
        self, runs: Any, embeddings: Any, memory: Any, settings: dict[str, Any] | None = None
    ) -> None:
        self.settings = Settings.model_validate(settings or {})
        if self.settings.home is not None:
            os.environ["EKKLESIA_HOME"] = self.settings.home
        self.backends = Backends(runs=runs, embeddings=embeddings, memory=memory)

    def __serve_build_asgi_app__(self) -> Any:
        return build_asgi(self.backends, self.settings)


deploy: Any = serve.deployment  # its overloads do not type a plain class with options


def _ray_has_gpu() -> bool:
    import ray

    if not ray.is_initialized():
        return False
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources.get("GPU", 0) > 0


def build_app(
    settings: Settings | dict[str, Any] | None = None,
    *,
    max_concurrent_runs: int = 2,
    max_batch_size: int = 64,
    cpus: float | None = None,
) -> Any:
    """The bound application. ``cpus`` sets every deployment's CPU share (0 in tests)."""
    chosen = Settings.model_validate(settings or {})
    home = chosen.home

    def resources(default: float, gpu: bool = False) -> dict[str, float]:
        out = {"num_cpus": default if cpus is None else cpus}
        if gpu and _ray_has_gpu():
            out["num_gpus"] = 1
        return out

    runs = deploy(
        RunsService,
        name="runs",
        max_ongoing_requests=10_000,
        ray_actor_options=resources(0.25),
    ).bind(home, max_concurrent_runs)
    embeddings = deploy(
        EmbeddingsService,
        name="embeddings",
        max_ongoing_requests=max(256, 4 * max_batch_size),
        ray_actor_options=resources(1.0, gpu=True),
    ).bind(max_batch_size)
    memory = deploy(
        MemoryService,
        name="memory",
        max_ongoing_requests=1000,
        ray_actor_options=resources(0.25),
    ).bind(home)
    ingress = cast(Any, Ingress).options(ray_actor_options=resources(0.25))
    return ingress.bind(runs, embeddings, memory, chosen.model_dump())
