"""Real servers on the loopback interface for the connector tests: the scripted OpenAI-compatible
server (``openai_server``) and the open-source Portkey gateway in front of it (``portkey_gateway``).
"""

from __future__ import annotations

from collections.abc import Iterator

import provider_key  # noqa: F401  (puts the test key in the environment before Ray starts)
import pytest
from openai_server import LocalOpenAIServer
from portkey_gateway import PortkeyGateway, node_missing_reason


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
