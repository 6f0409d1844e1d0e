"""Roles: a system prompt, the shape of output expected, and how an answer is read out of it.

Built in: planner, coder, reviewer, fact_checker, bi_analyst, judge, solver. Users define roles
with :class:`Role` (pass it to an agent directly, or :func:`register_role` it to name it by string)
without touching the package.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.errors import SpecError

__all__ = ["Role", "get_role", "parse_answer", "register_role", "roles"]

OutputShape = Literal["answer", "verdict", "code", "plan", "text"]

_ANSWER_LINE = re.compile(
    r"^\s*(?:final\s+)?answer\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)
_CONFIDENCE = re.compile(r"confidence\s*[:=]\s*([01](?:\.\d+)?)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_BOXED = re.compile(r"\\boxed\{([^}]*)\}")


class Role(BaseModel):
    """What an agent is asked to be. ``output`` names the expected shape of its reply."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    system_prompt: str
    output: OutputShape = "answer"
    debates: bool = True
    """False for roles that do not take part in debate rounds (a judge speaks only at the end)."""

    def parse(self, text: str) -> tuple[str | None, float | None]:
        """The answer and confidence this role's output carries, if any."""
        return parse_answer(text) if self.output in ("answer", "verdict") else (None, None)


def _normalise(raw: str) -> str:
    raw = raw.strip().strip(".*`$ ").rstrip(".")
    numbers = _NUMBER.findall(raw)
    if len(numbers) == 1 and len(raw) <= len(numbers[0]) + 12:
        value = numbers[0].replace(",", "")
        if "." in value:
            as_float = float(value)
            return str(int(as_float)) if as_float.is_integer() else repr(as_float)
        return str(int(value))
    return raw


def parse_answer(text: str) -> tuple[str | None, float | None]:
    """Read ``Answer: X`` (the last one), ``\\boxed{X}``, or else the last number in the text.

    Numbers are normalised (``1,000`` → ``1000``, ``14.0`` → ``14``) so that votes compare equal.
    """
    confidence = None
    if found := _CONFIDENCE.findall(text):
        confidence = min(1.0, max(0.0, float(found[-1])))
    if lines := _ANSWER_LINE.findall(text):
        return _normalise(lines[-1]), confidence
    if boxed := _BOXED.findall(text):
        return _normalise(boxed[-1]), confidence
    body = _CONFIDENCE.sub("", text)
    if numbers := _NUMBER.findall(body):
        return _normalise(numbers[-1]), confidence
    return None, confidence


_ANSWER_FORMAT = (
    "End your reply with a line 'Answer: <your answer>' and a line "
    "'Confidence: <a number from 0 to 1>'."
)

_BUILTIN = [
    Role(
        name="solver",
        system_prompt=f"You solve problems carefully, step by step. {_ANSWER_FORMAT}",
    ),
    Role(
        name="planner",
        system_prompt="You break a task into a short numbered plan of concrete steps.",
        output="plan",
    ),
    Role(
        name="coder",
        system_prompt="You write correct, idiomatic code for the task, in one fenced code block.",
        output="code",
    ),
    Role(
        name="reviewer",
        system_prompt=(
            "You review a proposed solution for errors. State the problems you find, then "
            f"the corrected result. {_ANSWER_FORMAT}"
        ),
    ),
    Role(
        name="fact_checker",
        system_prompt=(
            "You check each claim against what is known and mark it supported, refuted or "
            f"unverifiable, citing sources. {_ANSWER_FORMAT}"
        ),
        output="verdict",
    ),
    Role(
        name="bi_analyst",
        system_prompt=(
            "You answer business questions from data: say which tables and columns you use, "
            f"the query, and the figure. {_ANSWER_FORMAT}"
        ),
    ),
    Role(
        name="judge",
        system_prompt=(
            "You read the final answers of several agents with their reasoning and decide which "
            f"answer is right. {_ANSWER_FORMAT}"
        ),
        output="verdict",
        debates=False,
    ),
]

_registry: dict[str, Role] = {role.name: role for role in _BUILTIN}


def register_role(role: Role) -> Role:
    """Make ``role`` available by name; replaces a role of the same name."""
    _registry[role.name] = role
    return role


def get_role(role: str | Role) -> Role:
    if isinstance(role, Role):
        return role
    try:
        return _registry[role]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise SpecError(f"unknown role {role!r} (known: {known}; or pass an ek.Role)") from None


def roles() -> list[Role]:
    return sorted(_registry.values(), key=lambda r: r.name)
