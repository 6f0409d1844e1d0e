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
