"""Host failures: a host killed mid-round is restarted and the round re-run; never a hang."""

import asyncio
from typing import Any

import pytest
import ray

import ekklesia as ek
from ekklesia.core.events import HostRestarted, RoundStarted, RunErrored

pytestmark = pytest.mark.usefixtures("ray_session")

TASK = ek.tasks.arithmetic(n=1, seed=3)[0]


def swarm(**kwargs: Any) -> ek.Swarm:
    model = ek.SimulatedModel(skill=0.5, latency_s=0.3)  # slow enough to be killed mid-call
    agents = [ek.Agent(f"a{i}", model=model) for i in range(3)]
    return ek.Swarm(agents, rounds=3, seed=5, stop_on_consensus=False, **kwargs)


def kill_host_of(target: ek.Swarm, agent: str, in_round: int) -> Any:
    def on_event(event: Any) -> None:
        if isinstance(event, RoundStarted) and event.round == in_round:
            pool = target._pool
            assert pool is not None
            handle = pool.handles[pool.host_of[agent]]
            asyncio.get_running_loop().call_later(0.1, lambda: ray.kill(handle, no_restart=True))

    return on_event


def test_a_killed_host_is_restarted_and_the_run_resumes_from_the_last_round() -> None:
    with swarm() as undisturbed:
        expected = undisturbed.run(TASK).timeline.fingerprint()
    with swarm() as target:
        result = asyncio.run(target.arun(TASK, on_event=kill_host_of(target, "a1", in_round=1)))
    restarts = result.timeline.of_kind(HostRestarted)
    assert [(r.round, r.agents) for r in restarts] == [(1, ("a1",))]
    assert result.rounds == 3
    assert result.timeline.fingerprint() == expected  # same outcome as if nothing had happened


def test_past_its_restart_allowance_a_run_fails_cleanly_with_its_timeline() -> None:
    target = swarm(max_restarts=0, placement="single")
    with target, pytest.raises(ek.HostFailure, match="host-0 died in round 1"):
        asyncio.run(target.arun(TASK, on_event=kill_host_of(target, "a0", in_round=1)))
    [run_id] = ek.Timeline.list_runs()
    timeline = ek.Timeline.load(run_id)
    assert timeline.events[-1].kind == "run_error"
    assert isinstance(timeline.events[-1], RunErrored)
    assert [e.round for e in timeline.of_kind(RoundStarted)] == [0, 1]
