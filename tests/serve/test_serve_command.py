"""``ekklesia serve``: starts Ray, deploys, answers on 127.0.0.1, stops on Ctrl-C (slow: its own Ray)."""  # noqa: E501

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ekklesia_serve_deploys_and_reads_the_key_store(tmp_path: Path) -> None:
    env = {**os.environ, "EKKLESIA_HOME": str(tmp_path), "RAY_ADDRESS": "local"}
    env["PYTHONPATH"] = str(ROOT / "src")
    made = subprocess.run(
        [sys.executable, "-m", "ekklesia", "keys", "create", "--role", "viewer", "--json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    key = json.loads(made.stdout)["key"]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ekklesia", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(1)
        assert health.status_code in (200, 503)
        headers = {"Authorization": f"Bearer {key}"}
        config = httpx.get(f"http://127.0.0.1:{port}/config", headers=headers, timeout=30)
        assert config.status_code == 200 and "/v1/runs" in config.json()["routes"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
