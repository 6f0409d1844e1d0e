import asyncio

import pytest

import ekklesia as ek
from ekklesia.agents.roles import parse_answer
from ekklesia.core.llm import ChatTurn, LLMRequest, SimHints, estimate_tokens
from ekklesia.core.seeds import stable_seed

PROMPT = "What is the result of 12+15*21+0-3*27? Make sure to state your answer at the end."


def request(
    seed: int, *, expected: str = "246", own: str | None = None, heard: tuple[str, ...] = ()
):
    return LLMRequest(
        messages=(ChatTurn(role="system", content="solve"), ChatTurn(role="user", content=PROMPT)),
        seed=seed,
        hints=SimHints(expected=expected, own_answer=own, heard_answers=heard),
    )


def complete(model: ek.Model, req: LLMRequest) -> ek.LLMResponse:
    return asyncio.run(model.complete(req))


def test_same_seed_same_response_and_different_seeds_differ() -> None:
    model = ek.SimulatedModel(skill=0.5)
    assert complete(model, request(7)) == complete(model, request(7))
    texts = {complete(model, request(s)).text for s in range(20)}
    assert len(texts) > 5


def test_skill_is_the_probability_of_a_right_first_answer() -> None:
    model = ek.SimulatedModel(skill=0.67, correlation=0.0)
    answers = [parse_answer(complete(model, request(s)).text)[0] for s in range(2000)]
    share = sum(a == "246" for a in answers) / len(answers)
    assert 0.63 < share < 0.71
    assert all(
        parse_answer(complete(ek.SimulatedModel(skill=1.0), request(s)).text)[0] == "246"
        for s in range(50)
    )
    assert all(
        parse_answer(complete(ek.SimulatedModel(skill=0.0), request(s)).text)[0] != "246"
        for s in range(50)
    )


def test_wrong_answers_follow_from_the_work_shown() -> None:
    model = ek.SimulatedModel(skill=0.0)
    for s in range(30):
        text = complete(model, request(s)).text
        work = [line.rsplit("=", 1) for line in text.splitlines() if "=" in line]
        slips = [left for left, right in work if eval(left) != int(right)]
        assert len(slips) == 1  # exactly one step of the work shown is wrong
        assert parse_answer(text)[0] == work[-1][1].strip() != "246"


def test_full_conformity_moves_to_the_plurality_heard() -> None:
    model = ek.SimulatedModel(skill=0.0, conformity=1.0)
    for s in range(20):
        reply = complete(model, request(s, own="1", heard=("7", "7")))
        assert parse_answer(reply.text)[0] == "7"
    # a tie keeps the agent's own answer
    reply = complete(model, request(3, own="1", heard=("7",)))
    assert parse_answer(reply.text)[0] == "1"


def test_tokens_follow_the_text_and_cost_follows_the_price_table() -> None:
    model = ek.SimulatedModel(price_as="openai/gpt-4o-mini")
    req = request(1)
    reply = complete(model, req)
    assert reply.output_tokens == estimate_tokens(reply.text)
    assert reply.input_tokens == estimate_tokens(req.prompt_text)
    price = ek.default_prices().lookup("openai/gpt-4o-mini")
    assert price is not None
    assert reply.cost_usd == pytest.approx(price.cost(reply.input_tokens, reply.output_tokens))
    assert reply.cost_usd > 0


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    reply = complete(ek.SimulatedModel(), request(1).model_copy(update={"max_tokens": 5}))
    assert reply.finish_reason == "length"
    assert reply.output_tokens <= 5


@pytest.mark.parametrize("kwargs", [{"skill": 1.5}, {"conformity": -0.1}, {"latency_s": -1}])
def test_bad_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ek.SpecError):
        ek.SimulatedModel(**kwargs)


def test_stable_seed_is_stable() -> None:
    assert stable_seed(0, "a", 1) == stable_seed(0, "a", 1)
    assert (
        stable_seed(0, "a", 1) == 2994419644724811997
    )  # pinned: a change here changes every timeline


def test_correlation_makes_agents_fail_together() -> None:
    def wrong_share_together(correlation: float) -> float:
        model = ek.SimulatedModel(skill=0.6, correlation=correlation)
        both_wrong = 0
        for t in range(300):
            answers = [
                parse_answer(
                    complete(
                        model,
                        request(stable_seed(t, agent)).model_copy(
                            update={"hints": SimHints(task_id=f"t{t}", expected="246")}
                        ),
                    ).text
                )[0]
                for agent in ("a", "b")
            ]
            both_wrong += all(a != "246" for a in answers)
        return both_wrong / 300

    independent, correlated = wrong_share_together(0.0), wrong_share_together(0.8)
    assert 0.1 < independent < 0.22  # about 0.4 * 0.4
    assert correlated > independent + 0.1
