"""The BI team: an analyst that writes SQL and runs it through the read-only ``sql`` tool, and a
reviewer that checks the result answers the question.

A task for the team carries the database in ``meta["database"]`` (a DuckDB or SQLite file) and
its schema in ``meta["schema"]``; the question is the task's prompt and is in every prompt the
analyst gets. :class:`Analyst` asks its model for one query — offered as the ``sql`` tool when
the model supports tool calling (only ``query``: the analyst fills in the database and the
limits), and in any case asked for in a fenced ```sql block, which is what it reads when the reply
has no ``sql`` tool call — runs it with the ``sql`` tool (a recorded, replayable ``tool_call``
event) and checks the rows
(:func:`~ekklesia.bi.results.sanity_issues`). Its message carries the query, the rows as a
table and ``Answer: ok`` — or ``Answer: revise`` with what went wrong (no SQL in the reply, the
engine's error, an empty result, NULLs, implausible magnitudes), so a gate sends it back. A reply
without SQL is a failed turn of the analyst, never a crash of the run. On a revision the analyst
is shown its last query, what was wrong with it and what the reviewer said. :class:`Reviewer`
is shown the question, the schema and the analyst's latest work, and answers ``approve`` or
``revise`` with what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from ekklesia.agents.agent import Agent, Utterance
from ekklesia.agents.context import StepContext
from ekklesia.agents.model import Model
from ekklesia.agents.roles import Role, get_role, register_role
from ekklesia.bi.results import extract_sql, markdown_table, sanity_issues
from ekklesia.core.llm import ChatTurn, LLMRequest, LLMResponse, ToolSpec
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.tools.sql import SqlResult

__all__ = [
    "ANALYST",
    "FILLED_IN",
    "REVIEWER",
    "Analyst",
    "Reviewer",
    "analyst_prompt",
    "query_of",
    "result_of",
]

ANALYST = get_role("bi_analyst")

REVIEWER = register_role(
    Role(
        name="bi_reviewer",
        system_prompt=(
            "You review a data analyst's work. You are given a business question, the SQL the "
            "analyst ran and the rows it returned. Check that the query answers exactly the "
            "question asked: the right tables and join keys, the right filters (dates, codes, "
            "thresholds), the right aggregate, and that the figures are plausible. Say what is "
            "wrong, if anything, and end with `Answer: approve` or `Answer: revise`."
        ),
        output="verdict",
    )
)

_SYSTEM = (
    "You are a data analyst. You answer business questions by writing one SQL query for "
    "DuckDB over the database described below; it is run read-only and you are shown the rows. "
    "Use only the tables and columns listed. Reply with a sentence on how you answer the "
    "question, then the query in one fenced block:\n```sql\nSELECT ...\n```"
)
# Said only to a model that is offered the tool: prompts of runs without tools stay as they were,
# so their recorded timelines still replay.
_SYSTEM_TOOLS = (
    "You are a data analyst. You answer business questions by writing one SQL query for "
    "DuckDB over the database described below; it is run read-only and you are shown the rows. "
    "Use only the tables and columns listed. Reply with a sentence on how you answer the "
    "question, then run the query with the sql tool (or give it in one fenced block:"
    "\n```sql\nSELECT ...\n```)"
)
_AGAIN = "Give it in one fenced ```sql block."
_AGAIN_TOOLS = "Run it with the sql tool, or give it in one fenced ```sql block."
#: The ``sql`` tool's arguments the analyst fills in itself: the model only writes the query.
FILLED_IN = ("database", "max_rows", "timeout_s")


def analyst_prompt(question: str, schema: str) -> str:
    """The question with the database's tables, as the analyst is asked it."""
    return f"Database tables:\n{schema}\n\nQuestion: {question}"


def _meta(ctx: StepContext, key: str) -> str:
    value = ctx.task.meta.get(key)
    return value if isinstance(value, str) else ""


def result_of(content: str) -> str:
    """The part of an analyst's message that reports the result (after its query)."""
    return content.rpartition("\nResult:")[2]


class Analyst(Agent):
    """Writes a query with its model, runs it through the ``sql`` tool and checks the rows."""

    def offers_sql(self, ctx: StepContext) -> bool:
        """Whether this step's request offers the ``sql`` tool: the agent has it and the model
        calls tools (a replay's model says what the recorded run's did)."""
        model = ctx.model
        return "sql" in self.tools and isinstance(model, Model) and model.supports_tools

    def request(self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext) -> LLMRequest:
        request = super().request(inbox, ctx)
        if not self.offers_sql(ctx):
            return request
        offered: tuple[ToolSpec, ...] = (self.tools["sql"].tool_spec(leave_out=FILLED_IN),)
        return request.model_copy(update={"tools": offered})

    def prompt(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[ChatTurn]:
        tools = self.offers_sql(ctx)
        turns = [
            ChatTurn(role="system", content=_SYSTEM_TOOLS if tools else _SYSTEM),
            ChatTurn(role="user", content=analyst_prompt(ctx.task.prompt, _meta(ctx, "schema"))),
        ]
        own = [m for m in inbox if isinstance(m, AgentMessage) and m.sender == self.name]
        notes = [m for m in inbox if isinstance(m, AgentMessage) and m.sender != self.name]
        if own or notes:
            if own:
                turns.append(ChatTurn(role="assistant", content=own[-1].content))
            said = "\n\n".join(f"{m.sender}: {m.content}" for m in notes)
            turns.append(
                ChatTurn(
                    role="user",
                    content=(
                        "Your query or its result did not pass the check"
                        + (f"; the reviewer said:\n{said}" if said else ".")
                        + f"\n\nWrite a corrected query for the question: {ctx.task.prompt}\n"
                        + (_AGAIN_TOOLS if tools else _AGAIN)
                    ),
                )
            )
        return turns

    async def step(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[Utterance]:
        reply = await ctx.complete(self.request(inbox, ctx))
        if not reply.ok:
            return [Utterance(content=reply.error or "model call failed", failed=True)]
        query = query_of(reply)
        if query is None:
            why = "the reply has no SQL query in a ```sql block"
            call = reply.tool_call("sql")
            if call is not None:
                why = f"the sql tool call has no query (its arguments: {call.arguments[:200]!r})"
            return [_revise(reply.text, why)]
        ran = await ctx.call_tool(
            "sql", database=_meta(ctx, "database"), query=query, max_rows=500, timeout_s=30.0
        )
        said = f"{_prose(reply.text)}\n```sql\n{query}\n```"
        if not ran.ok or not isinstance(ran.value, SqlResult):
            return [_revise(said, f"the query failed: {ran.error}")]
        issues = sanity_issues(ran.value)
        table = markdown_table(ran.value)
        if issues:
            return [_revise(f"{said}\nResult:\n{table}", "; ".join(issues))]
        return [
            Utterance(
                content=f"{said}\nResult:\n{table}\nCheck: passed\nAnswer: ok",
                answer="ok",
            )
        ]


def query_of(reply: LLMResponse) -> str | None:
    """The query of an analyst's reply: the ``query`` of its first ``sql`` tool call, else the
    SQL of its fenced block (see :func:`~ekklesia.bi.results.extract_sql`), else ``None``."""
    call = reply.tool_call("sql")
    arguments = call.parsed_arguments if call is not None else None
    query = arguments.get("query") if arguments else None
    if isinstance(query, str) and query.strip().rstrip(";").strip():
        return query.strip().rstrip(";").strip()
    return extract_sql(reply.text)


def _prose(text: str) -> str:
    """The reply without its fenced blocks: the analyst's own words."""
    kept: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced and line.strip():
            kept.append(line)
    return "\n".join(kept).strip() or "Query:"


def _revise(said: str, why: str) -> Utterance:
    return Utterance(content=f"{said}\nCheck: failed: {why}\nAnswer: revise", answer="revise")


class Reviewer(Agent):
    """Reads the question, the schema and the analyst's latest query and rows; approves or not."""

    def prompt(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[ChatTurn]:
        work = [
            m
            for m in inbox
            if isinstance(m, AgentMessage) and ctx.roles.get(m.sender) == ANALYST.name
        ]
        shown = work[-1].content if work else "(the analyst has not answered)"
        asked = analyst_prompt(ctx.task.prompt, _meta(ctx, "schema"))
        return [
            ChatTurn(role="system", content=self.role.system_prompt),
            ChatTurn(
                role="user",
                content=(
                    f"{asked}\n\nThe analyst's query and result:\n{shown}\n\n"
                    "Does this query answer exactly the question asked? Say what is wrong, if "
                    "anything, then end with `Answer: approve` or `Answer: revise`."
                ),
            ),
        ]
