"""Keys come from the environment or a secrets file, and show up nowhere a run writes or prints."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import ray
from openai_server import LocalOpenAIServer
from portkey_gateway import PortkeyGateway
from provider_key import SECRET_KEY_ENV
from typer.testing import CliRunner

from ekklesia.cli import app
from ekklesia.connectors.secrets import SECRETS_FILE_ENV, redact, remember_secret, secret
from ekklesia.errors import UserError


def test_a_key_comes_from_the_environment_before_the_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.env"
    path.write_text(
        "# provider keys\n\nexport FIRST_KEY='from-the-file-1'\nSECOND_KEY = \"from-the-file-2\"\n"
    )
    monkeypatch.setenv(SECRETS_FILE_ENV, str(path))
    monkeypatch.setenv("FIRST_KEY", "from-the-environment")
    monkeypatch.delenv("SECOND_KEY", raising=False)
    assert secret("FIRST_KEY") == "from-the-environment"
    assert secret("SECOND_KEY") == "from-the-file-2"
    assert secret("THIRD_KEY") is None
    other = tmp_path / "other.env"
    other.write_text("SECOND_KEY=from-the-other-file\n")
    assert secret("SECOND_KEY", file=other) == "from-the-other-file"
    assert redact("key=from-the-file-2;") == "key=***;"


def test_a_damaged_secrets_file_is_reported_without_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("ekkt-a-bare-key-on-a-line\n")
    monkeypatch.delenv("ANY_KEY", raising=False)
    with pytest.raises(UserError) as caught:
        secret("ANY_KEY", file=path)
    assert "line 1: expected NAME=value" in str(caught.value)
    assert "ekkt-a-bare-key" not in str(caught.value)
    with pytest.raises(UserError, match="secrets file not found"):
        secret("ANY_KEY", file=tmp_path / "missing.env")


def test_redaction_hides_known_values_and_bearer_tokens() -> None:
    remember_secret("ekkt-remembered-value-123")
    text = (
        "sent ekkt-remembered-value-123 with Authorization: Bearer abcdefghijklmnop "
        "and sk-proj-ABCDEFGHIJKLMNOPQRST"
    )
    assert redact(text) == "sent *** with Authorization: Bearer *** and ***"
    assert redact("short ok") == "short ok"


def _files_containing(needle: bytes, roots: list[Path], since: float) -> list[Path]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path.stat().st_mtime >= since and needle in path.read_bytes():
                found.append(path)
    return found


@pytest.mark.usefixtures("ray_session")
def test_a_key_in_the_environment_appears_in_nothing_a_run_writes_or_prints(
    openai_server: LocalOpenAIServer,
    portkey_gateway: PortkeyGateway,
    model_name: str,
    ekklesia_home: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    key = os.environ[SECRET_KEY_ENV]
    started = time.time() - 1
    # The provider echoes the key in an error, as real ones do for a key they reject.
    openai_server.script(
        model_name, [{"status": 401, "error": f"Incorrect API key provided: {key}."}]
    )
    direct = (
        f"openai:{openai_server.url}?key_env={SECRET_KEY_ENV}&price_as=gpt-4o-mini#{model_name}"
    )
    gateway = (
        f"portkey:@openai/{model_name}?base_url={portkey_gateway.url}&custom_host="
        f"{openai_server.url}&provider_key_env={SECRET_KEY_ENV}&price_as=gpt-4o-mini"
    )
    runner = CliRunner()
    outputs = []
    for spec in (direct, gateway):
        args = ["run", "--model", spec, "--tasks", "1", "--rounds", "2", "--placement", "single"]
        ran = runner.invoke(app, args)
        assert ran.exit_code == 0, ran.output
        outputs.append(ran.output)
    reported = runner.invoke(app, ["cost", "report", "--format", "csv"])
    outputs.append(reported.output)
    listed = runner.invoke(app, ["models", direct, gateway, "--json"])
    outputs.append(listed.output)

    # The key was really used: every call carried it, through the gateway too.
    received = openai_server.requests(model_name)
    assert len(received) >= 6
    assert all(r["headers"].get("authorization") == f"Bearer {key}" for r in received)
    assert "Incorrect API key provided: ***." in outputs[0]  # the echoed key, redacted

    captured = capfd.readouterr()
    for text in [*outputs, captured.out, captured.err]:
        assert key not in text
    session_dir = Path(ray._private.worker._global_node.get_session_dir_path())
    assert list(ekklesia_home.rglob("*.parquet"))
    assert _files_containing(key.encode(), [ekklesia_home, session_dir], started) == []
