"""The names ``import ekklesia`` exports are the ones intended, and each of them resolves."""

import ekklesia as ek

INTENDED = {
    # swarms of language-model agents
    "Swarm", "RunResult", "Agent", "Utterance", "StepContext", "Role", "register_role",
    "Task", "tasks", "Budget", "Ledger", "Usage", "Timeline", "build_graph",
    "AgentMessage", "TaskMessage", "replay", "areplay", "ReplayReport",
    # what runs cost, and the session that groups the runs of one command or request
    "CostRecords", "session",
    # models
    "Model", "LLMRequest", "LLMResponse", "ChatTurn", "SimHints", "SimulatedModel",
    "FunctionModel", "ReplayModel", "model_from_spec", "register_model_scheme",
    "PriceTable", "default_prices", "OpenAICompatModel", "PortkeyModel", "FallbackModel",
    "BudgetedModel", "session_ledger", "ToolSpec", "ModelToolCall",
    # simulations of populations
    "Simulation", "SimulationResult", "RoundReport", "Population", "AgentKind",
    "PopulationContext", "Mail", "Inbox", "environments",
    # shared memory
    "Memory", "MemoryPolicy",
    # patterns, run specs and tools
    "patterns", "Pattern", "Stage", "Gate", "StopRule", "RoundView", "register_pattern",
    "RunSpec", "AgentSpec", "tools", "Tool", "tool", "ToolContext", "ToolResult", "register_tool",
    # the code team
    "code", "run_pattern", "arun_pattern", "PatternReport",
    # the BI team (ek.bi("QUESTION") answers one)
    "bi",
    # the research team
    "research", "aresearch", "ResearchReport",
    # learning which strategy wins
    "learn", "PatternLearner",
    # errors
    "EkklesiaError", "UserError", "SpecError", "TimelineNotFound", "RunError", "HostFailure",
    "ReplayMismatch", "BudgetExceeded", "ToolError", "ConnectorError", "TransientError",
    "PermanentError", "CircuitOpen",
    "__version__",
}  # fmt: skip


def test_exports_are_the_intended_names() -> None:
    assert set(ek.__all__) == INTENDED
    for name in ek.__all__:
        assert getattr(ek, name) is not None
