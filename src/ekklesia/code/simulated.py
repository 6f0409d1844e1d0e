"""A simulated software team: how a :class:`~ekklesia.agents.simulated.SimulatedModel` answers
the seven code tasks (HumanEval problems worked as software patterns).

:func:`register` makes simulated models answer every task whose ``meta["kind"]`` is one of
:data:`KINDS` with :func:`respond`. It registers an import path, so a process that has not
imported this module still resolves it; but the registry is per process, so it must be called
in each process that steps simulated agents (the package's ``__init__`` is the place for it).
:func:`respond` writes the reply a model in the step's role would write — prose around one
fenced ``python`` block, a review with ``Verdict:`` and ``Line:`` labels, and an ``Answer:``
line a gate reads — so that :mod:`ekklesia.code.parsing` reads real and simulated replies
alike. It knows the answer key (``hints.meta``: the canonical program, the tests, the program
handed over) and is right with the probabilities below; it is deterministic given ``rng`` and
the hints, and runs nothing.

Who answers: ``hints.role`` (``planner``, ``coder``, ``reviewer``, ``tester``, or an alias in
:data:`ROLES`), else a role read from the stage's name (``plan``, ``review``, ``test``, ``code``,
``fix``...), else the task's own job: a reviewer for ``code_review``, a tester for ``testing``,
a coder for the rest. ``skill`` is ``model.skill``:

* planner: a short numbered plan naming the entry point and the kind's job. Never wrong.
* coder, first attempt: the right program with probability ``skill``, else a slip (one operator,
  name or integer changed; :mod:`ekklesia.code._slips`). The right program is the canonical one;
  for ``documentation`` it is ``meta["program"]`` with docstrings whose example is a doctest from
  the prompt (wrong: no example, or an example with a wrong result, half and half). For
  ``bug_fix`` the wrong answer is the given program unchanged or with a slip of its own (half
  and half; a slip that happens to undo the planted bug leaves the program unchanged). For
  ``refactoring`` and ``optimization`` the canonical program stands for the behaviour-preserving
  rewrite and the wrong answer is a slip of it. With probability ``correlation`` the slip is the
  task's shared one (the same for every agent of this model), as models fail alike. About one
  slip in ten still passes HumanEval's tests (see ``_slips``).
* coder, revising (``attempt > 0``, or a reviewer or tester reported a bug): right code is kept;
  wrong code is fixed with probability ``skill`` — SimulatedModel has no separate revision skill,
  and a revision is the problem worked again with a pointer to the fault, so the chance is the
  model's chance of being right — else kept as it was or slipped anew (half and half).
* coder hearing other coders (a debate): with probability ``conformity`` it takes the code most of
  them (itself included) wrote, else it works the problem again (right with ``skill``).
* reviewer: reads the last code a coder wrote in what it heard (``meta["program"]`` for
  ``code_review``, or when it heard none). Code that is not right is caught with probability
  ``skill``: ``Verdict: bug``, ``Line:`` the first line where it differs from the right program,
  and what that line should say; missed, it says ``Verdict: correct``. Right code draws a false
  alarm with probability ``(1 - skill) * 0.2`` (a bug on some line of the function). It ends
  with ``Answer: revise`` or ``Answer: approve``, except that reviewing the task's program of a
  ``code_review`` task it ends with ``Answer: bug`` or ``Answer: correct``, the task's expected
  answers.
* tester: tests from the problem's own: the asserts of ``meta["test"]``'s ``check`` with
  ``candidate`` named as the entry point, after the statements they need. All of them with
  probability ``skill``, else each with probability 1/2 (at least one). Code it heard (or the
  program of a ``testing`` task) that is not right fails them with probability ``skill``: it
  names a failing assert and ends with ``Answer: revise``; otherwise all pass, ``Answer:
  approve``. The tests are the problem's, so right code always passes. With no code to test it
  ends with ``Answer: tests``. Reviews and test reports end with a ``Confidence:`` line too.
* the solver's answer for a role it does not know: the kind's job, as above.

Right and wrong are judged by syntax tree (:func:`~ekklesia.code._slips.same_code`), so
formatting and comments do not count; documentation is judged by its text.
"""

from __future__ import annotations

import ast
import difflib
import random
from collections.abc import Callable
from typing import Literal

from ekklesia.agents.simulated import SimulatedModel, register_behaviour
from ekklesia.code import _docstrings, _slips
from ekklesia.code.kinds import KINDS
from ekklesia.code.parsing import extract_code, extract_verdict
from ekklesia.core.llm import LLMRequest, SimHints
from ekklesia.core.seeds import stable_seed

__all__ = ["FALSE_ALARM", "KINDS", "ROLES", "register", "respond"]

#: How often a reviewer calls right code buggy, as a share of ``1 - skill``.
FALSE_ALARM = 0.2

Part = Literal["planner", "coder", "reviewer", "tester"]

#: Role names read as one of the four parts (a pattern may call its coder a developer).
ROLES: dict[str, Part] = {
    "planner": "planner",
    "architect": "planner",
    "coder": "coder",
    "developer": "coder",
    "programmer": "coder",
    "engineer": "coder",
    "fixer": "coder",
    "refactorer": "coder",
    "optimizer": "coder",
    "documenter": "coder",
    "writer": "coder",
    "reviewer": "reviewer",
    "critic": "reviewer",
    "tester": "tester",
    "qa": "tester",
}
# the part a stage's name asks for, when the role's name says nothing: first match wins
_STAGES: tuple[tuple[str, Part], ...] = (
    ("plan", "planner"),
    ("review", "reviewer"),
    ("critiq", "reviewer"),
    ("test", "tester"),
    ("code", "coder"),
    ("implement", "coder"),
    ("fix", "coder"),
    ("write", "coder"),
    ("draft", "coder"),
    ("revis", "coder"),
    ("document", "coder"),
    ("refactor", "coder"),
    ("optimi", "coder"),
)
_BEHAVIOUR = "ekklesia.code.simulated:respond"


def register() -> None:
    """Make simulated models answer the seven code kinds with :func:`respond`, in this process."""
    for kind in KINDS:
        register_behaviour(kind, _BEHAVIOUR)


def respond(model: SimulatedModel, request: LLMRequest, rng: random.Random) -> str:
    """The reply of a simulated team member; see the module docstring."""
    job = _Job(model, request.hints or SimHints(), rng)
    writers: dict[Part, Callable[[_Job], str]] = {
        "planner": _plan,
        "coder": _code,
        "reviewer": _review,
        "tester": _test,
    }
    return writers[_part(job.hints, job.kind)](job)


def _part(hints: SimHints, kind: str) -> Part:
    if hints.role in ROLES:
        return ROLES[hints.role]
    stage = hints.stage.lower()
    for word, part in _STAGES:
        if word in stage:
            return part
    return _DEFAULT_PARTS.get(kind, "coder")


# the part that does a task's job, for a role and stage that name none
_DEFAULT_PARTS: dict[str, Part] = {"code_review": "reviewer", "testing": "tester"}


class _Job:
    """One reply to write: the model, what it may know, and the task's data read from meta."""

    def __init__(self, model: SimulatedModel, hints: SimHints, rng: random.Random) -> None:
        self.model, self.hints, self.rng = model, hints, rng
        meta = hints.meta
        self.kind = _str(meta.get("kind"))
        self.entry = _str(meta.get("entry_point")) or "solution"
        self.prompt = _str(meta.get("prompt"))
        self.test = _str(meta.get("test"))
        self.canonical = _normal(_str(meta.get("canonical")))
        self.program = _normal(_str(meta.get("program"))) if meta.get("program") else None
        functions = meta.get("functions")
        self.functions = (
            [f for f in functions if isinstance(f, str)]
            if isinstance(functions, list)
            else [self.entry]
        )

    @property
    def skill(self) -> float:
        return self.model.skill

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def target(self) -> str:
        """The right answer a coder can give."""
        if self.kind == "documentation":
            return self.documented("right")
        return self.canonical

    def documented(self, example: _docstrings.Example) -> str:
        program = self.program or self.canonical
        try:
            # a file of one's own has no problem statement to take docstrings from
            entry = self.entry if self.prompt else ""
            documented = _docstrings.document(
                program, self.prompt, self.test, entry, self.functions, example=example
            )
        except SyntaxError:
            return program
        return _normal(documented)

    def is_right(self, code: str) -> bool:
        if self.kind == "documentation":
            return _normal(code) == self.target()
        if _slips.same_code(code, self.canonical):
            return True
        # a refactoring or optimization handed over unchanged still behaves as it should
        if self.kind in ("refactoring", "optimization") and self.program is not None:
            return _slips.same_code(code, self.program)
        return False

    def fault(self, code: str) -> tuple[int, str]:
        """The first line of ``code`` that is not right, and what the right program says there."""
        reference = self.target()
        found = None if self.kind == "documentation" else _slips.first_difference(code, reference)
        if found is None:  # documentation, or the code differs from the right one in text only
            found = _first_text_difference(code, reference)
        line, reference_line = found
        return line, _line(reference, reference_line)

    def slip_rng(self) -> random.Random:
        """Where a slip is drawn: the task's shared one with probability ``correlation``."""
        if self.chance(self.model.correlation):
            return random.Random(stable_seed("sim-code-slip", self.model.seed, self.hints.task_id))
        return self.rng

    def wrong(self, base: str | None = None) -> str:
        """A plausible wrong program: a slip of ``base`` (the canonical one by default)."""
        source = base or self.canonical
        found = _slips.slip(source, self.slip_rng(), function=self.entry)
        if found is None:
            return _normal(self.prompt + "    pass\n") if self.prompt else source
        if _slips.same_code(found.program, self.canonical):
            return source  # a slip of a buggy program that undid its bug: no fix by chance
        return _normal(found.program)


# -- planner --------------------------------------------------------------------------------------

_JOBS = {
    "feature_development": "Write the body of `{entry}` so that it does what the docstring says.",
    "bug_fix": "Find the line where the program departs from the docstring and fix only that.",
    "code_review": "Read the program line by line against the docstring; name the first faulty "
    "line, if any.",
    "testing": "Write asserts for `{entry}`: the docstring's examples, then the edge cases.",
    "documentation": "Give {functions} a docstring with a doctest example from the problem.",
    "refactoring": "Rewrite `{entry}` more simply, keeping what it returns for every input.",
    "optimization": "Find the costly loop in `{entry}` and replace it, keeping the results.",
}


def _plan(job: _Job) -> str:
    signature = _signature(job.prompt, job.entry)
    step = _JOBS.get(job.kind, _JOBS["feature_development"]).format(
        entry=job.entry, functions=", ".join(f"`{f}`" for f in job.functions)
    )
    edge = job.rng.choice(
        ["empty inputs", "a single element", "negative numbers", "the boundaries of the ranges"]
    )
    opening = job.rng.choice(["Plan:", "Here is the plan.", f"Plan for `{job.entry}`:"])
    return (
        f"{opening}\n"
        f"1. Read the signature `{signature}` and the examples in its docstring.\n"
        f"2. {step}\n"
        f"3. Check the edge cases: {edge}.\n"
        f"4. Run the docstring's examples against `{job.entry}` before handing it on."
    )


# -- coder ----------------------------------------------------------------------------------------


def _code(job: _Job) -> str:
    hints = job.hints
    own = extract_code(hints.own_text) if hints.own_text else None
    reports = [
        text
        for role, text in hints.heard
        if ROLES.get(role) != "coder" and extract_verdict(text)[0] == "bug"
    ]
    peers = [
        code
        for role, text in hints.heard
        if ROLES.get(role, role) in ("coder", hints.role) and (code := extract_code(text))
    ]
    if own is not None and (hints.attempt > 0 or reports):
        code, lead = _revise(job, own, reports)
    elif own is not None and peers:
        code, lead = _debate(job, own, peers)
    elif own is not None:
        code, lead = own, "Nothing new was raised, so the code stays as it was."
    else:
        code, lead = _first(job)
    closing = job.rng.choice(
        [
            "It follows the docstring and its examples.",
            "Let me know if the tests say otherwise.",
            "The examples in the docstring should pass.",
        ]
    )
    return f"{lead}\n\n```python\n{_normal(code)}```\n\n{closing}"


def _first(job: _Job) -> tuple[str, str]:
    right = job.chance(job.skill)
    lead = job.rng.choice(
        [
            f"Here is an implementation of `{job.entry}`.",
            f"Here is `{job.entry}`:",
            f"I wrote `{job.entry}` as follows.",
        ]
    )
    if job.kind == "documentation":
        example: _docstrings.Example = "right" if right else job.rng.choice(["none", "wrong"])
        return job.documented(example), f"Here is the program with docstrings for {_names(job)}."
    if job.kind == "bug_fix" and job.program is not None:
        lead = f"I found the bug in `{job.entry}` and fixed it."
        if right:
            return job.target(), lead
        if job.chance(0.5):
            return job.program, f"I went through `{job.entry}` and it looks right to me as it is."
        return job.wrong(job.program), lead
    if job.kind in ("refactoring", "optimization"):
        verb = "a simpler" if job.kind == "refactoring" else "a faster"
        lead = f"Here is {verb} version of `{job.entry}` that returns the same results."
    return (job.target() if right else job.wrong()), lead


def _revise(job: _Job, own: str, reports: list[str]) -> tuple[str, str]:
    where = ""
    for report in reports:
        if (line := extract_verdict(report)[1]) is not None:
            where = f" on line {line}"
            break
    if job.is_right(own):
        return own, "I checked the code again against the examples and it is right; I keep it."
    if job.chance(job.skill):
        return job.target(), f"You are right, there was a mistake{where}. Here is the fix."
    kept = f"I looked again{where} and I believe the code is right as it is."
    if job.chance(0.5):
        return own, kept
    changed = job.wrong()
    if _slips.same_code(changed, own):  # the task's shared slip, made again: nothing changed
        return own, kept
    return changed, f"Thanks, I changed the code{where}."


def _debate(job: _Job, own: str, peers: list[str]) -> tuple[str, str]:
    if job.chance(job.model.conformity):
        pool = [own, *peers]
        counts = [sum(_slips.same_code(a, b) for b in pool) for a in pool]
        # the most common program; a tie keeps one's own (it comes first)
        chosen = pool[counts.index(max(counts))]
        return chosen, f"I compared the versions; {max(counts)} of {len(pool)} agree on this one."
    code = job.target() if job.chance(job.skill) else job.wrong()
    return code, "The versions differ, so I worked the problem again from the start."


# -- reviewer -------------------------------------------------------------------------------------

_GATE_ANSWERS = {"bug": "revise", "correct": "approve"}
_FALSE_ALARMS = (
    "this may not handle an empty input",
    "the loop bound looks off by one",
    "this comparison should probably be inclusive",
    "the result is not what the docstring's example expects",
)


def _review(job: _Job) -> str:
    code, is_task = _under_review(job)
    if code is None:
        return "I could not find any code to review in what I was given.\n\nAnswer: revise"
    lead = job.rng.choice(
        [
            f"I read `{job.entry}` line by line against the docstring.",
            f"I reviewed the code of `{job.entry}` and traced the docstring's examples.",
        ]
    )
    fault = None if job.is_right(code) else job.fault(code)  # the answer key's judgment
    if fault is not None and job.chance(job.skill):
        line, should = fault
        written = _line(code, line)
        fix = f"; it should read `{should}`" if should and should != written else ""
        body = f"Verdict: bug\nLine: {line}\nLine {line}, `{written}`, is wrong{fix}."
        verdict = "bug"
    elif fault is None and job.chance((1 - job.skill) * FALSE_ALARM):
        line = _some_line(job, code)
        complaint = job.rng.choice(_FALSE_ALARMS)
        body = f"Verdict: bug\nLine: {line}\nOn line {line}, `{_line(code, line)}`: {complaint}."
        verdict = "bug"
    else:
        body = "Verdict: correct\nThe code does what the docstring asks, examples included."
        verdict = "correct"
    # a code_review task expects the verdict itself; a team's gate reads approve or revise
    answer = verdict if is_task else _GATE_ANSWERS[verdict]
    return f"{lead}\n\n{body}\n\nAnswer: {answer}\nConfidence: {_confidence(job, verdict)}"


def _under_review(job: _Job) -> tuple[str | None, bool]:
    """The code to review, and whether it is the task's own program (a ``code_review`` task)."""
    if job.kind == "code_review" and job.program is not None:
        return job.program, True
    return _heard_code(job) or job.program, False


def _heard_code(job: _Job) -> str | None:
    """The last code heard from a coder, else from anyone."""
    heard = [(role, extract_code(text)) for role, text in job.hints.heard]
    for wanted in (True, False):
        for role, code in reversed(heard):
            if code is not None and (ROLES.get(role) == "coder") == wanted:
                return code
    return None


def _some_line(job: _Job, code: str) -> int:
    """A line of a statement of the function's body, for a complaint about code that is right."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return 1
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == job.entry:
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            lines.update(
                n.lineno for part in body for n in ast.walk(part) if isinstance(n, ast.stmt)
            )
    return job.rng.choice(sorted(lines)) if lines else 1


# -- tester ---------------------------------------------------------------------------------------


def _test(job: _Job) -> str:
    if not job.test.strip():  # a file of one's own with no examples: nothing to test against
        return (
            f"I found no examples of what {_names(job)} should return, so I wrote no tests."
            "\n\nAnswer: tests"
        )
    preamble, cases = _test_cases(job.test, job.entry, job.functions)
    if not cases:  # nothing to pick from: the problem's tests as they are
        call = f"check({job.entry})"
        tests = job.test.strip() if call in job.test else f"{job.test.strip()}\n\n\n{call}"
        chosen = [call]
    else:
        keep = [True] * len(cases)
        if not job.chance(job.skill):
            keep = [job.chance(0.5) for _ in cases]
            keep[job.rng.randrange(len(cases))] = True
        chosen = [case for case, kept in zip(cases, keep, strict=True) if kept]
        tests = "\n".join(preamble + chosen)
    code = _heard_code(job) or (job.program if job.kind == "testing" else None)
    lead = f"I wrote {len(chosen)} tests for `{job.entry}` from the problem's examples."
    text = f"{lead}\n\n```python\n{tests.rstrip()}\n```\n"
    if code is None:
        return text + "\nAnswer: tests"
    if not job.is_right(code) and job.chance(job.skill):
        asserts = [case for case in chosen if case.startswith("assert")] or chosen
        failing = job.rng.choice(asserts).splitlines()[0]
        return text + f"\nResult: `{failing}` fails against the code.\nAnswer: revise"
    return text + f"\nResult: all {len(chosen)} tests pass against the code.\nAnswer: approve"


def _test_cases(
    test: str, entry: str, names: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """The statements ``check`` needs first, and its asserts, ``candidate`` named ``entry``.

    An assert is a case when it calls ``entry`` or one of ``names`` (a file's functions).

    Statements of ``check`` that assert nothing (imports, set-up) are kept in the preamble in
    order; a loop that asserts is one case. Empty cases when ``check`` has no assert to pick.
    """
    renamed = _slips.rename(test, "candidate", entry)
    called = {entry, *(names or ())}
    try:
        tree = ast.parse(renamed)
    except SyntaxError:
        return [], []
    lines = renamed.splitlines()
    preamble: list[str] = []
    cases: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            preamble.append(ast.get_source_segment(renamed, node) or "")
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            for statement in node.body:
                chunk = lines[statement.lineno - 1 : statement.end_lineno]
                indent = statement.col_offset
                source = "\n".join(
                    line[indent:] if line[:indent].isspace() else line for line in chunk
                )
                asserts = any(isinstance(n, ast.Assert) for n in ast.walk(statement))
                mentions = any(
                    isinstance(n, ast.Name) and n.id in called for n in ast.walk(statement)
                )
                if asserts and mentions:
                    cases.append(source)
                elif not asserts:
                    preamble.append(source)
    return preamble, cases


# -- small things ---------------------------------------------------------------------------------


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _normal(code: str) -> str:
    """One way to write a program's text: ``\\n`` line ends, no blank lines around it."""
    return code.replace("\r\n", "\n").strip("\n") + "\n"


def _names(job: _Job) -> str:
    return ", ".join(f"`{name}`" for name in job.functions)


def _line(code: str, line: int) -> str:
    lines = code.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _signature(prompt: str, entry: str) -> str:
    for line in prompt.splitlines():
        if line.startswith(f"def {entry}("):
            return line.removesuffix(":").removeprefix("def ").strip()
    return f"{entry}(...)"


def _first_text_difference(code: str, reference: str) -> tuple[int, int]:
    """The first line where the texts differ, in each (the line after, for one left out)."""
    mine, theirs = _normal(code).splitlines(), reference.splitlines()
    matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
    for tag, i1, _, j1, _ in matcher.get_opcodes():
        if tag != "equal":
            return min(j1 + 1, max(len(mine), 1)), i1 + 1
    return 1, 1


def _confidence(job: _Job, verdict: str) -> str:
    low, high = (0.6, 0.95) if verdict == "correct" else (0.5, 0.9)
    return f"{low + (high - low) * job.rng.random():.2f}"
