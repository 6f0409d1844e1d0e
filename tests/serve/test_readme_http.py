"""The README's HTTP API example runs against the live server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import Server

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_http_api_example_runs(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    section = README.read_text().split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"```py\n(.*?)```", section, flags=re.DOTALL)
    assert len(examples) == 1
    monkeypatch.setenv("EKKLESIA_URL", server.url)
    monkeypatch.setenv("EKKLESIA_KEY", server.key("member"))
    exec(compile(examples[0], str(README), "exec"), {"__name__": "readme_http_example"})
