"""The code team: offline software-engineering suites built from HumanEval, and seven patterns.

Seven patterns (``feature_development``, ``bug_fix``, ``code_review``, ``testing``,
``documentation``, ``refactoring``, ``optimization``), each a list of
:class:`~ekklesia.core.task.Task` whose ``meta`` follows the schema in :mod:`ekklesia.code.suites`;
the bugs are seeded AST mutations (:mod:`ekklesia.code.mutations`) checked to fail in the sandbox.
The patterns (:mod:`ekklesia.code.patterns`) run the team — planner, coder, reviewer and a
:class:`~ekklesia.code.team.Tester` that runs code only in the sandbox — and score the final
program in the sandbox; :func:`run_pattern` runs one over tasks. Simulated team members behave as
:mod:`ekklesia.code.simulated` says.
"""

from ekklesia.code.humaneval import Problem, full_program, problem, problems, test_program
from ekklesia.code.mutations import (
    MUTATION_KINDS,
    Mutation,
    MutationKind,
    failing_mutants,
    mutants,
)
from ekklesia.code.patterns import CODE_PATTERNS, CodeOptions
from ekklesia.code.run import PatternReport, arun_pattern, run_pattern
from ekklesia.code.samples import (
    HarnessReport,
    SampleResult,
    aevaluate_samples,
    completion,
    evaluate_samples,
    write_samples,
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
from ekklesia.code.team import Tester

__all__ = [
    "CODE_PATTERNS",
    "MUTATION_KINDS",
    "PATTERNS",
    "SUITES",
    "SUITE_VERSION",
    "CodeOptions",
    "HarnessReport",
    "Mutation",
    "MutationKind",
    "PatternReport",
    "Problem",
    "SampleResult",
    "SuiteBuilder",
    "Tester",
    "abug_fix",
    "acode_review",
    "aevaluate_samples",
    "aoptimization",
    "arun_pattern",
    "asuite",
    "atesting",
    "bug_fix",
    "code_review",
    "completion",
    "documentation",
    "evaluate_samples",
    "failing_mutants",
    "feature_development",
    "full_program",
    "mutants",
    "optimization",
    "problem",
    "problems",
    "refactoring",
    "run_pattern",
    "suite",
    "test_program",
    "testing",
    "write_samples",
]
