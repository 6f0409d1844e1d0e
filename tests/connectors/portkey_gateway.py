"""The open-source Portkey gateway as a child process on a free loopback port (tests, benchmarks).

Needs ``node`` and ``npm ci`` run at the repository root (``package.json`` lists
``@portkey-ai/gateway``). ``PortkeyGateway.url`` is the base URL a Portkey client is given.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("start_portkey_gateway.mjs")
PACKAGE = ROOT / "node_modules" / "@portkey-ai" / "gateway"


def node_missing_reason() -> str | None:
    """Why the gateway cannot run here, or ``None`` when it can."""
    if shutil.which("node") is None:
        return "node is not installed, so the Portkey gateway cannot run"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortkeyGateway:
    """``with PortkeyGateway() as gateway: gateway.url`` — started, answering, then stopped."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> PortkeyGateway:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        if not PACKAGE.exists():
            raise RuntimeError(f"{PACKAGE} is missing: run `npm ci` at {ROOT}")
        self._process = subprocess.Popen(
            [node, str(LAUNCHER), f"--port={self.port}", "--headless"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the Portkey gateway exited with {self._process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Portkey gateway did not answer within 30s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> PortkeyGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
