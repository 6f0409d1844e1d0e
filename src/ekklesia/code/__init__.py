"""The code team's layer: offline software-engineering task suites built from HumanEval.

Seven patterns (``feature_development``, ``bug_fix``, ``code_review``, ``testing``,
``documentation``, ``refactoring``, ``optimization``), each a list of
:class:`~ekklesia.core.task.Task` whose ``meta`` follows the schema in :mod:`ekklesia.code.suites`;
the bugs are seeded AST mutations (:mod:`ekklesia.code.mutations`) checked to fail in the sandbox.
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
from ekklesia.code.suites import (
    PATTERNS,
    SUITE_VERSION,
    SUITES,
    SuiteBuilder,
    abug_fix,
    acode_review,
    aoptimization,
    asuite,
    atesting,
    bug_fix,
    code_review,
    documentation,
    feature_development,
    optimization,
    refactoring,
    suite,
    testing,
)

__all__ = [
    "MUTATION_KINDS",
    "PATTERNS",
    "SUITES",
    "SUITE_VERSION",
    "Mutation",
    "MutationKind",
    "Problem",
    "SuiteBuilder",
    "abug_fix",
    "acode_review",
    "aoptimization",
    "asuite",
    "atesting",
    "bug_fix",
    "code_review",
    "documentation",
    "failing_mutants",
    "feature_development",
    "full_program",
    "mutants",
    "optimization",
    "problem",
    "problems",
    "refactoring",
    "suite",
    "test_program",
    "testing",
]
