"""The code team's layer: offline software-engineering task suites built from HumanEval.

The bugs are seeded AST mutations (:mod:`ekklesia.code.mutations`) checked to fail in the sandbox.
This layer imports ``core``, ``tools`` and ``errors`` only.
"""

from ekklesia.code.humaneval import Problem, full_program, problem, problems, test_program
from ekklesia.code.mutations import (
    MUTATION_KINDS,
    Mutation,
    MutationKind,
    failing_mutants,
    mutants,
)

__all__ = [
    "MUTATION_KINDS",
    "Mutation",
    "MutationKind",
    "Problem",
    "failing_mutants",
    "full_program",
    "mutants",
    "problem",
    "problems",
    "test_program",
]
