"""What a real model is shown: the analyst's and the reviewer's prompts carry the question, the
schema and the work to check (no runtime needed to read a prompt)."""

from __future__ import annotations

from ekklesia.agents.context import StepContext
from ekklesia.bi.team import Analyst, Reviewer
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.core.task import Task

TASK = Task(
    id="t",
    prompt="How many planes are there?",
    meta={"schema": "planes (3322 rows): tailnum VARCHAR", "database": "x.duckdb"},
)
WORK = "Counting.\n```sql\nSELECT COUNT(*) FROM planes\n```\nResult:\n| n |\nAnswer: ok"


def ctx(agent: str) -> StepContext:
    roles = {"analyst": "bi_analyst", "reviewer": "bi_reviewer"}
    return StepContext(run_id="r", round=0, agent=agent, task=TASK, seed=0, model=None, roles=roles)  # type: ignore[arg-type]


def said(sender: str, content: str) -> AgentMessage:
    return AgentMessage(run_id="r", round=0, sender=sender, recipients=(), content=content)


def test_the_reviewer_sees_the_question_the_schema_and_the_latest_work() -> None:
    reviewer = Reviewer("reviewer", role="bi_reviewer")
    turns = reviewer.prompt([said("analyst", "old work"), said("analyst", WORK)], ctx("reviewer"))
    text = turns[-1].content
    assert "Question: How many planes are there?" in text and "planes (3322 rows)" in text
    assert "SELECT COUNT(*) FROM planes" in text and "old work" not in text
    assert "Answer: approve" in text and "Answer: revise" in text


def test_a_revising_analyst_sees_its_query_and_the_reviewers_note() -> None:
    analyst = Analyst("analyst", role="bi_analyst", tools=["sql"])
    task = TaskMessage(run_id="r", round=0, sender="task", recipients=(), content="", task_id="t")
    first = analyst.prompt([task], ctx("analyst"))
    assert len(first) == 2 and "Question: How many planes are there?" in first[1].content
    again = analyst.prompt(
        [said("analyst", WORK), said("reviewer", "Wrong table.\nAnswer: revise")], ctx("analyst")
    )
    assert again[2].content == WORK and "Wrong table." in again[3].content
    assert "How many planes are there?" in again[3].content and "```sql" in again[3].content
