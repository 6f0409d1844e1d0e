"""ekklesia: swarms of agents debating over a graph, in rounds, on Ray — recorded and replayable.

A tour::

    import ekklesia as ek
    agents = [ek.Agent(f"a{i}", model=ek.SimulatedModel(skill=0.67)) for i in range(3)]
    swarm = ek.Swarm(
        agents=agents,
        graph="complete", rounds=2, aggregate="majority", seed=0, budget=ek.Budget(max_usd=1.0))
    result = swarm.run(ek.tasks.arithmetic(n=1, seed=0)[0])
"""

from typing import TYPE_CHECKING, Any

from ekklesia import bi, code, environments, patterns, tasks, tools
from ekklesia.agents.agent import Agent, Utterance
from ekklesia.agents.context import StepContext
from ekklesia.agents.function import FunctionModel
from ekklesia.agents.model import Model
from ekklesia.agents.population import AgentKind, Population, PopulationContext
from ekklesia.agents.pricing import PriceTable, default_prices
from ekklesia.agents.replay import ReplayModel
from ekklesia.agents.roles import Role, register_role
from ekklesia.agents.simulated import SimulatedModel
from ekklesia.agents.spec import model_from_spec, register_model_scheme
from ekklesia.code.run import PatternReport, arun_pattern, run_pattern
from ekklesia.connectors import FallbackModel, OpenAICompatModel
from ekklesia.core.events import Usage
from ekklesia.core.llm import ChatTurn, LLMRequest, LLMResponse, ModelToolCall, SimHints, ToolSpec
from ekklesia.core.mail import Inbox, Mail
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.errors import (
    BudgetExceeded,
    CircuitOpen,
    ConnectorError,
    EkklesiaError,
    HostFailure,
    PermanentError,
    ReplayMismatch,
    RunError,
    SpecError,
    TimelineNotFound,
    ToolError,
    TransientError,
    UserError,
)
from ekklesia.memory import Memory, MemoryPolicy
from ekklesia.patterns.graph import build_graph
from ekklesia.patterns.library import register_pattern
from ekklesia.patterns.pattern import Gate, Pattern, RoundView, Stage, StopRule
from ekklesia.patterns.spec import AgentSpec, RunSpec
from ekklesia.replay import areplay, replay
from ekklesia.research.run import ResearchReport, aresearch, research
from ekklesia.runtime.costs import CostRecords
from ekklesia.runtime.ledger import Budget, Ledger
from ekklesia.runtime.ledger_actor import BudgetedModel, session_ledger
from ekklesia.runtime.session import session
from ekklesia.runtime.timeline import Timeline
from ekklesia.simulation import RoundReport, Simulation, SimulationResult
from ekklesia.swarm import ReplayReport, RunResult, Swarm
from ekklesia.tasks import Task
from ekklesia.tools import Tool, ToolContext, ToolResult, register_tool, tool

if TYPE_CHECKING:
    from ekklesia import learn
    from ekklesia.connectors.portkey import PortkeyModel
    from ekklesia.learn import PatternLearner

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentKind",
    "AgentMessage",
    "AgentSpec",
    "Budget",
    "BudgetExceeded",
    "BudgetedModel",
    "ChatTurn",
    "CircuitOpen",
    "ConnectorError",
    "CostRecords",
    "EkklesiaError",
    "FallbackModel",
    "FunctionModel",
    "Gate",
    "HostFailure",
    "Inbox",
    "LLMRequest",
    "LLMResponse",
    "Ledger",
    "Mail",
    "Memory",
    "MemoryPolicy",
    "Model",
    "ModelToolCall",
    "OpenAICompatModel",
    "Pattern",
    "PatternLearner",
    "PatternReport",
    "PermanentError",
    "Population",
    "PopulationContext",
    "PortkeyModel",
    "PriceTable",
    "ReplayMismatch",
    "ReplayModel",
    "ReplayReport",
    "ResearchReport",
    "Role",
    "RoundReport",
    "RoundView",
    "RunError",
    "RunResult",
    "RunSpec",
    "SimHints",
    "SimulatedModel",
    "Simulation",
    "SimulationResult",
    "SpecError",
    "Stage",
    "StepContext",
    "StopRule",
    "Swarm",
    "Task",
    "TaskMessage",
    "Timeline",
    "TimelineNotFound",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ToolSpec",
    "TransientError",
    "Usage",
    "UserError",
    "Utterance",
    "__version__",
    "areplay",
    "aresearch",
    "arun_pattern",
    "bi",
    "build_graph",
    "code",
    "default_prices",
    "environments",
    "learn",
    "model_from_spec",
    "patterns",
    "register_model_scheme",
    "register_pattern",
    "register_role",
    "register_tool",
    "replay",
    "research",
    "run_pattern",
    "session",
    "session_ledger",
    "tasks",
    "tool",
    "tools",
]


def __getattr__(name: str) -> Any:
    # The Portkey SDK takes a second to import; only programs that use it pay for it.
    if name == "PortkeyModel":
        from ekklesia.connectors.portkey import PortkeyModel

        return PortkeyModel
    # The learner needs scipy; it is imported when a program first asks for it.
    if name == "learn":
        import ekklesia.learn

        return ekklesia.learn
    if name == "PatternLearner":
        from ekklesia.learn import PatternLearner

        return PatternLearner
    raise AttributeError(f"module 'ekklesia' has no attribute {name!r}")
