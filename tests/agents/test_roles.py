import pytest

import ekklesia as ek
from ekklesia.agents.roles import get_role, parse_answer, roles


@pytest.mark.parametrize(
    ("text", "answer", "confidence"),
    [
        ("so 3+4 = 7\nAnswer: 7\nConfidence: 0.9", "7", 0.9),
        ("Answer: 1,024.", "1024", None),
        ("answer = 14.0", "14", None),
        ("The result is \\boxed{-12}", "-12", None),
        ("First 5, then 9, so the final result is 12.", "12", None),
        ("Final answer: Paris", "Paris", None),
        ("Confidence: 0.4 and nothing else", None, 0.4),
        ("no idea", None, None),
    ],
)
def test_parse_answer(text: str, answer: str | None, confidence: float | None) -> None:
    assert parse_answer(text) == (answer, confidence)


def test_builtin_roles_exist_and_judge_does_not_debate() -> None:
    names = {r.name for r in roles()}
    assert {
        "planner",
        "coder",
        "reviewer",
        "fact_checker",
        "bi_analyst",
        "judge",
        "solver",
    } <= names
    assert not get_role("judge").debates
    assert get_role("solver").debates


def test_users_add_roles_without_touching_the_package() -> None:
    critic = ek.Role(name="critic", system_prompt="Find the flaw.")
    agent = ek.Agent("c1", role=critic)
    assert agent.role is critic
    ek.register_role(ek.Role(name="poet", system_prompt="Answer in verse.", output="text"))
    assert ek.Agent("p1", role="poet").role.parse("Answer: 3") == (None, None)
    with pytest.raises(ek.SpecError, match="unknown role 'bard'"):
        ek.Agent("b1", role="bard")


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "-leading"])
def test_bad_agent_names(name: str) -> None:
    with pytest.raises(ek.SpecError, match="agent name"):
        ek.Agent(name)
