"""A code pattern with a real HTTP model: the prompts a model is sent, code read out of a fenced
block in its reply and scored in the sandbox, and a reply with no code a failed turn."""

from __future__ import annotations

import json

import pytest
from openai_server import LocalOpenAIServer

import ekklesia as ek
from ekklesia.code import suites

pytestmark = pytest.mark.usefixtures("ray_session")

PRICE = "price_as=gpt-4o-mini"


def test_bug_fix_with_an_openai_compatible_model(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    task = suites.suite("bug_fix", 1, seed=0)[0]
    fixed = str(task.meta["canonical"])
    openai_server.script(
        model_name,
        steps=[
            {"text": f"The comparison was wrong. Here is the fix:\n\n```python\n{fixed}```"},
            {"text": "```python\nassert True\n```\nAnswer: approve"},
        ],
    )
    spec = f"openai:{openai_server.url}?{PRICE}#{model_name}"
    report = ek.run_pattern("bug_fix", [task], model=spec, max_revisions=0)
    assert report.score == 1.0 and report.usage.usd > 0
    sent = openai_server.requests(model_name)
    coder = json.dumps(sent[0]["body"]["messages"])
    # the model is asked for a fenced program and given the buggy one
    assert "```python" in coder and "complete corrected program" in coder
    assert str(task.meta["entry_point"]) in coder


def test_a_reply_with_no_code_is_a_failed_turn_not_a_crash(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    task = suites.suite("bug_fix", 1, seed=0)[0]
    openai_server.script(
        model_name, default={"text": "I am not sure what is wrong with this program."}
    )
    spec = f"openai:{openai_server.url}?{PRICE}#{model_name}"
    report = ek.run_pattern("bug_fix", [task], model=spec, max_revisions=1)
    (result,) = report.results
    assert report.score == 0.0 and result.stop_reason is not None
