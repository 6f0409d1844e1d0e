"""``ekklesia serve``: start (or join) Ray and deploy the HTTP application until Ctrl-C."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ekklesia.cli._common import console, err_console, fail, one_line_errors
from ekklesia.core.paths import data_home

__all__ = ["register"]


def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 unless told).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    index_root: Annotated[
        list[str] | None,
        typer.Option(help="A folder under which POST /v1/index may index (repeat for more)."),
    ] = None,
    max_concurrent_runs: Annotated[
        int, typer.Option(help="Runs that go on at once; the others wait, queued.")
    ] = 2,
) -> None:
    """Serve runs, live events, embeddings, memory and health over HTTP, behind API keys."""
    with one_line_errors():
        if not 0 < port < 65536:
            fail(f"--port must be between 1 and 65535, got {port}")
        if max_concurrent_runs < 1:
            fail(f"--max-concurrent-runs must be >= 1, got {max_concurrent_runs}")
        from ray import serve

        from ekklesia.runtime.ray_support import ensure_ray
        from ekklesia.serve.api import Settings
        from ekklesia.serve.application import build_app
        from ekklesia.serve.keys import KeyStore

        ensure_ray()
        serve.start(http_options={"host": host, "port": port})
        settings = Settings(home=str(data_home()), index_roots=index_root or [])
        serve.run(
            build_app(settings, max_concurrent_runs=max_concurrent_runs),
            name="ekklesia",
            route_prefix="/",
        )
        console.print(f"serving on http://{host}:{port}  (GET /health, GET /config; Ctrl-C stops)")
        if not KeyStore().all():
            err_console.print("no API keys yet: make one with `ekklesia keys create --role owner`")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            err_console.print("stopping")
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
