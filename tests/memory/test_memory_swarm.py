"""End to end: the agents of a debate share a Memory, and the run's timeline records every use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ekklesia as ek
from ekklesia.core.events import MemoryOp
from ekklesia.memory import Memory
from ekklesia.memory.embedder_pool import PooledEmbedder


def _debate(memory: Memory) -> Any:
    class NoteTaker(ek.Agent):
        """Writes its first answer down for the swarm; later reads what everyone wrote."""

        async def step(self, inbox: Sequence[Any], ctx: ek.StepContext) -> list[ek.Utterance]:
            said = await super().step(inbox, ctx)
            if ctx.round == 0:
                await ctx.memory.remember(
                    f"In round one {self.name} answered {said[0].answer}.", scope="swarm"
                )
            else:
                await ctx.memory.recall("what did each agent answer", k=5, scopes="swarm")
            return said

    agents = [NoteTaker(f"a{i}", model=ek.SimulatedModel(skill=0.5)) for i in range(3)]
    task = ek.tasks.arithmetic(n=1, seed=3)[0]
    with ek.Swarm(
        agents, rounds=2, seed=5, stop_on_consensus=False, memory=memory, name="notes"
    ) as swarm:
        return swarm.run(task)


def test_a_debate_shares_memory_and_records_it(pooled: PooledEmbedder, tmp_path: Path) -> None:
    first_memory = Memory("debate", root=tmp_path / "first")
    try:
        result = _debate(first_memory)
    finally:
        first_memory.close()
    ops = result.timeline.of_kind(MemoryOp)
    assert [(op.round, op.op) for op in ops] == [(0, "remember")] * 3 + [(1, "recall")] * 3
    assert sorted(op.agent for op in ops if op.round == 0) == ["a0", "a1", "a2"]
    written = {op.detail["digest"] for op in ops if op.op == "remember"}
    for recall in (op for op in ops if op.op == "recall"):
        assert {hit["digest"] for hit in recall.detail["hits"]} == written
        assert all(hit["scope"] == "swarm" for hit in recall.detail["hits"])

    # a second run with the same seed, on a fresh memory, records the very same memory events
    second_memory = Memory("debate", root=tmp_path / "second")
    try:
        again = _debate(second_memory)
    finally:
        second_memory.close()
    assert again.run_id != result.run_id
    assert again.timeline.fingerprint() == result.timeline.fingerprint()


def test_memory_search_is_a_tool_over_the_swarms_memory(
    pooled: PooledEmbedder, tmp_path: Path
) -> None:
    class Searcher(ek.Agent):
        """Writes a note in round one; in round two finds it with the memory_search tool."""

        async def step(self, inbox: Sequence[Any], ctx: ek.StepContext) -> list[ek.Utterance]:
            if ctx.round == 0 and ctx.memory is not None:
                await ctx.memory.remember(f"{self.name} keeps the key under the mat", scope="swarm")
                return [ek.Utterance(content="Answer: noted", answer="noted")]
            found = await ctx.call_tool("memory_search", query="where is the key?", k=2)
            hits = found.unwrap()
            return [ek.Utterance(content=f"Answer: {len(hits)}", answer=str(len(hits)))]

    memory = Memory("search", root=tmp_path / "search")
    agents = [Searcher(f"s{i}", tools=["memory_search"]) for i in range(2)]
    try:
        with ek.Swarm(agents, rounds=2, stop_on_consensus=False, memory=memory) as swarm:
            result = swarm.run(ek.Task.of("Where is the key?", expected="2"))
    finally:
        memory.close()
    calls = [e for e in result.timeline.events if e.kind == "tool_call"]
    assert [c.tool for c in calls] == ["memory_search", "memory_search"] and result.correct
    texts = {hit["text"] for hit in calls[0].result}  # type: ignore[union-attr]
    assert texts == {"s0 keeps the key under the mat", "s1 keeps the key under the mat"}
    with ek.Swarm([Searcher("alone", tools=["memory_search"])], rounds=1) as swarm:
        alone = swarm.run(ek.Task.of("Where is the key?"))
    (failed,) = [e for e in alone.timeline.events if e.kind == "tool_call"]
    assert failed.error is not None and "needs a swarm with memory" in failed.error
