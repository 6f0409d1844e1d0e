"""Fuzz every route of the OpenAPI document with schemathesis, with a key and without one:
no 5xx, no status the document does not list, and authentication never ignored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Server

ST = str(Path(sys.executable).with_name("schemathesis"))


def fuzz(
    server: Server, tmp_path: Path, key: str | None, examples: int, checks: str, phases: str
) -> str:
    with server.client(server.key("owner")) as client:
        schema = client.get("/openapi.json").json()
    operations = sum(len(ops) for ops in schema["paths"].values())
    assert operations >= 22
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(schema))
    command = [
        ST, "run", str(path), "--url", server.url, "--checks", checks,
        "--max-examples", str(examples), "--request-timeout", "60",
        "--phases", phases, "--seed", "1", "--no-color",
        "--suppress-health-check", "all",
    ]  # fmt: skip
    if key is not None:
        command += ["--header", f"Authorization: Bearer {key}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert f"Tested: {operations}" in done.stdout  # every operation was called
    return done.stdout


def test_every_route_fuzzed_with_a_key_and_without(server: Server, tmp_path: Path) -> None:
    # the default run: the documented examples and one generated case of each route with a key,
    # one generated case each without; the slow test below fuzzes at length
    fuzz(
        server, tmp_path, server.key("owner"), 1,
        "not_a_server_error,status_code_conformance,ignored_auth", "examples,fuzzing",
    )  # fmt: skip
    fuzz(server, tmp_path, None, 1, "not_a_server_error,status_code_conformance", "fuzzing")


@pytest.mark.slow
def test_every_route_fuzzed_at_length(server: Server, tmp_path: Path) -> None:
    fuzz(
        server, tmp_path, server.key("owner"), 50,
        "not_a_server_error,status_code_conformance,ignored_auth", "examples,coverage,fuzzing",
    )  # fmt: skip
    fuzz(
        server, tmp_path, server.key("viewer"), 20,
        "not_a_server_error,status_code_conformance", "fuzzing",
    )  # fmt: skip
