"""Patterns: how a swarm works a task — stages, gates, stop rules, aggregation — and the library.

``ek.patterns.library["debate"]`` is the debate of Du et al.; write your own with
:class:`Pattern`, :class:`Stage` and :class:`Gate` and :func:`register_pattern` it.
"""

from ekklesia.patterns.aggregation import AGGREGATIONS, Vote, aggregate_votes
from ekklesia.patterns.debate import debate
from ekklesia.patterns.graph import TOPOLOGIES, build_graph, validate_graph
from ekklesia.patterns.library import PatternLibrary, get_pattern, library, register_pattern
from ekklesia.patterns.pattern import (
    Gate,
    Pattern,
    Plan,
    RoundView,
    Stage,
    StopRule,
    consensus,
    exact_match,
)
from ekklesia.patterns.spec import SPEC_VERSION, AgentSpec, RunSpec, load_spec_file

__all__ = [
    "AGGREGATIONS",
    "SPEC_VERSION",
    "TOPOLOGIES",
    "AgentSpec",
    "Gate",
    "Pattern",
    "PatternLibrary",
    "Plan",
    "RoundView",
    "RunSpec",
    "Stage",
    "StopRule",
    "Vote",
    "aggregate_votes",
    "build_graph",
    "consensus",
    "debate",
    "exact_match",
    "get_pattern",
    "library",
    "load_spec_file",
    "register_pattern",
    "validate_graph",
]
