"""Real servers on the loopback interface for the connector tests: the scripted OpenAI-compatible
server (``openai_server``) and the open-source Portkey gateway in front of it (``portkey_gateway``).

``SECRET_KEY_ENV`` is set here, at collection, before the session's Ray instance starts, so that
Ray's worker processes — where agents make their calls — see it like the driver does.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from openai_server import LocalOpenAIServer
from portkey_gateway import PortkeyGateway, node_missing_reason

SECRET_KEY_ENV = "EKKLESIA_TEST_PROVIDER_KEY"
os.environ.setdefault(SECRET_KEY_ENV, "sk-ekk-" + secrets.token_hex(20))


@pytest.fixture(scope="session")
def openai_server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def portkey_gateway() -> Iterator[PortkeyGateway]:
    reason = node_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with PortkeyGateway() as gateway:
        yield gateway


@pytest.fixture
def model_name(request: pytest.FixtureRequest) -> str:
    """A model name no other test uses, so that each test's script on the server is its own."""
    return "m-" + request.node.name.replace("[", "-").replace("]", "")
