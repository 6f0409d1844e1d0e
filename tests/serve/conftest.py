"""One Ray Serve application for the whole of tests/serve, on 127.0.0.1, shut down at the end."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ekklesia.serve.keys import KeyStore, Role

#: Debian's chromium, for the dashboard's browser tests (never a downloaded browser), and the
#: flags it runs under here: headless, and nothing that reaches for the network on its own
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    keys: KeyStore

    def key(self, role: Role = "member", **limits: object) -> str:
        return self.keys.create(role, **limits).key  # type: ignore[arg-type]

    def client(self, key: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="package")
def server(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from ray import serve

    from ekklesia.serve.api import Settings
    from ekklesia.serve.application import build_app

    home = tmp_path_factory.mktemp("serve-home")
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    settings = Settings(
        home=str(home),
        sse_ping_s=0.3,
        max_body_bytes=64 * 1024,
        index_roots=[str(tmp_path_factory.getbasetemp())],
    )
    serve.run(build_app(settings, cpus=0), name="ekklesia", route_prefix="/")
    try:
        yield Server(f"http://127.0.0.1:{port}", home, KeyStore(home / "keys.json"))
    finally:
        serve.shutdown()
