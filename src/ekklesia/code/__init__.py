"""The code team's layer: offline software-engineering task suites built from HumanEval.

This layer imports ``core``, ``tools`` and ``errors`` only.
"""

from ekklesia.code.humaneval import Problem, full_program, problem, problems, test_program

__all__ = [
    "Problem",
    "full_program",
    "problem",
    "problems",
    "test_program",
]
