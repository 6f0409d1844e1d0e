"""Memory as agents use it: the handle, its recorded operations, scopes, and tier movement."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from ekklesia.core.events import MemoryOp
from ekklesia.memory import EmptyMemoryText, Filter, Memory, MemoryConfigError, MemoryPolicy
from ekklesia.memory.embedder_pool import PooledEmbedder
from ekklesia.memory.system import MemoryHandle


@pytest.fixture(scope="module")
def shared(pooled: PooledEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Memory]:
    """One memory (and one set of writer actors) for the module; tests keep to their own swarm."""
    mem = Memory("agents", root=tmp_path_factory.mktemp("mem"))
    yield mem
    mem.close()


@pytest.fixture
def memory(shared: Memory, request: pytest.FixtureRequest) -> Memory:
    _SWARM[0] = request.node.name.partition("[")[0][-40:]
    return shared


_SWARM = ["debate"]


def _handle(
    memory: Memory, agent: str, run_id: str = "run-1"
) -> tuple[MemoryHandle, list[MemoryOp]]:
    ops: list[MemoryOp] = []
    swarm = _SWARM[0]
    return memory.handle(
        agent=agent, run_id=f"{swarm}-{run_id}", swarm_id=swarm, record=ops.append
    ), ops


async def test_every_operation_is_recorded_in_order_with_deterministic_detail(
    memory: Memory,
) -> None:
    alice, ops = _handle(memory, "alice")
    await alice.remember("The answer to task 7 is 42 because 6 times 7 is 42.")
    await alice.remember("Bob tends to round numbers too early.", scope="agent")
    hits = await alice.recall("what is the answer to task 7?", k=2)
    assert hits[0].text.startswith("The answer to task 7")
    assert hits[0].scope == f"run:{_SWARM[0]}-run-1"
    assert await alice.forget(hits[0].id) == 1
    assert [op.op for op in ops] == ["remember", "remember", "recall", "forget"]
    assert [op.scope for op in ops[:2]] == ["run", "agent"]
    assert ops[0].detail["tier"] == "vectors" and ops[0].detail["kind"] == "note"
    recall = ops[2].detail
    assert recall["k"] == 2 and recall["mode"] == "hybrid"
    assert recall["hits"][0]["scope"] == "run"
    # nothing in the detail depends on the run id, the time or where a hit was cached
    again, ops2 = _handle(memory, "alice", run_id="run-2")
    await again.remember("The answer to task 7 is 42 because 6 times 7 is 42.")
    assert ops2[0].detail == ops[0].detail


async def test_private_memories_stay_private(memory: Memory) -> None:
    alice, _ = _handle(memory, "alice")
    bob, _ = _handle(memory, "bob")
    await alice.remember("My private hunch: the answer is 17.", scope="agent")
    await alice.remember("Shared note: check the units.", scope="swarm")
    seen_by_bob = {h.text for h in await bob.recall("hunch answer units", k=10)}
    assert seen_by_bob == {"Shared note: check the units."}
    assert await bob.forget(scope="agent") == 0  # bob's agent scope is his own, and empty
    assert len(await alice.recall("hunch", k=10, scopes="agent")) == 1


async def test_keys_replace_and_route_records(memory: Memory) -> None:
    alice, ops = _handle(memory, "alice")
    first = await alice.remember("plan: split the sum", kind="kv", key="plan")
    second = await alice.remember("plan: multiply first", kind="kv", key="plan")
    assert first == second
    assert ops[-1].detail["tier"] == "records"
    hits = await alice.recall("plan", kinds=["kv"], mode="text")
    assert [h.text for h in hits] == ["plan: multiply first"]
    assert hits[0].tier in ("hot", "records")
    assert await alice.forget(key="plan", scope="run") == 1


async def test_empty_text_is_refused_and_not_recorded(memory: Memory) -> None:
    alice, ops = _handle(memory, "alice")
    with pytest.raises(EmptyMemoryText, match="empty"):
        await alice.remember("   ")
    with pytest.raises(EmptyMemoryText):
        await alice.recall("")
    with pytest.raises(MemoryConfigError):
        await alice.forget()
    assert ops == []


async def test_old_entries_are_demoted_to_the_archive_and_promoted_back_on_a_hit(
    pooled: PooledEmbedder, tmp_path: Path
) -> None:
    policy = MemoryPolicy.model_validate({"demotion": {"after_s": 3600.0}})
    memory = Memory("tiers", root=tmp_path / "tiers", policy=policy)
    try:
        await memory.remember("Glaciers carve U-shaped valleys.", scope="global")
        await memory.remember("Rivers carve V-shaped valleys.", scope="global")
        assert await memory.demote() == 0  # nothing is old yet
        later = __import__("time").time() + 7200
        assert await memory.demote(now=later) == 2
        counts = await memory.counts()
        assert (counts["vectors"], counts["archive"], counts["hot"]) == (0, 2, 0)
        hits = await memory.recall("how do glaciers shape valleys", k=1)
        assert hits[0].text.startswith("Glaciers") and hits[0].tier == "archive"
        counts = await memory.counts()
        assert (counts["vectors"], counts["archive"], counts["hot"]) == (1, 1, 1)
        again = await memory.recall("how do glaciers shape valleys", k=1)
        assert again[0].tier == "hot"
    finally:
        memory.close()


@ray.remote(num_cpus=0)
def _remember_elsewhere(memory: Memory, text: str) -> str:
    import asyncio

    return asyncio.run(memory.remember(text, scope="session:s1"))


async def test_memory_pickles_small_and_works_in_another_process(memory: Memory) -> None:
    assert len(pickle.dumps(memory)) < 2_000
    entry_id = await _remember_elsewhere.remote(memory, "Written by a Ray task.")
    hits = await memory.recall("who wrote this", where=Filter(scopes=("session:s1",)))
    assert hits and hits[0].tier == "vectors"  # not from this process's hot tier: it was not here
    assert [h.id for h in hits] == [entry_id]


async def test_writes_demote_old_entries_by_policy(pooled: PooledEmbedder, tmp_path: Path) -> None:
    policy = MemoryPolicy.model_validate({"demotion": {"after_s": 500.0, "check_every_s": 600.0}})
    memory = Memory("auto", root=tmp_path / "auto", policy=policy)
    try:
        clock = [1_000_000.0]
        memory.router.clock = lambda: clock[0]
        await memory.remember("An old note about tides.")
        clock[0] += 300  # the first write set the next check 600 s out
        await memory.remember("A newer note about winds.")
        assert (await memory.counts())["archive"] == 0
        clock[0] += 400  # the check is due: the tide note (700 s old) goes, the wind note stays
        await memory.remember("The newest note, about clouds.")
        counts = await memory.counts()
        assert (counts["vectors"], counts["archive"]) == (2, 1)
        hits = await memory.recall("tides", k=1, mode="text")
        assert hits[0].tier == "archive"
    finally:
        memory.close()


async def test_a_stale_hot_copy_is_recalled_only_when_reads_cascade(
    minilm: object, tmp_path: Path
) -> None:
    """As if another process had forgotten an entry that this process still holds in its cache."""
    strict = Memory("strict", root=tmp_path / "strict", on_ray=False)
    cascade = Memory(
        "cascade",
        root=tmp_path / "cascade",
        on_ray=False,
        policy=MemoryPolicy.model_validate({"read": {"fanout": "cascade"}}),
    )
    try:
        for memory in (strict, cascade):
            await memory.remember("Owls hunt at night.")
            await memory.remember("Bees dance to give directions.")
            durable = memory.router.tiers["vectors"]
            assert await durable.delete(Filter(kinds=("note",))) == 2  # gone, but still cached
        assert await strict.recall("owls", k=1) == []
        stale = await cascade.recall("owls", k=1)
        assert [h.tier for h in stale] == ["hot"] and stale[0].text == "Owls hunt at night."
    finally:
        strict.close()
        cascade.close()
