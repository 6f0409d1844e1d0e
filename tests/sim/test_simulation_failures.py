"""Host failures in simulations: resume from the last checkpoint, or stop cleanly; never hang."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import ray

from ekklesia.core.events import HostRestarted, RoundMeasured, RunErrored
from ekklesia.environments.two_thirds import averages, guess_two_thirds
from ekklesia.errors import HostFailure
from ekklesia.runtime.timeline import Timeline
from ekklesia.simulation import RoundReport, SimulationResult

pytestmark = pytest.mark.usefixtures("ray_session")


def dummy_game(**options: Any) -> Any:
    # dummy players wait 0.25 s a round: long enough to be killed in the middle of a round
    return guess_two_thirds(
        6000, 4, player="dummy", latency=0.25, wait="batch", seed=8, hosts=2, **options
    )


def kill_and_wait(handle: Any) -> None:
    """Kill an actor and return once it is gone: ``ray.kill`` only asks, and a call made right
    after it could still reach the living actor."""
    ray.kill(handle, no_restart=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ray.get(handle.__ray_ready__.remote(), timeout=5)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            return
        time.sleep(0.05)
    raise AssertionError("the killed host still answers after 30 s")


def kill(host: str, after_round: int, delay: float | None) -> Any:
    def on_round(report: RoundReport) -> None:
        if report.round == after_round:
            handle = report.hosts[host]
            if delay is None:
                kill_and_wait(handle)
            else:
                asyncio.get_running_loop().call_later(
                    delay, lambda: ray.kill(handle, no_restart=True)
                )

    return on_round


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationResult]:
    with pytest.MonkeyPatch.context() as patch:  # module fixtures run outside the per-test home
        patch.setenv("EKKLESIA_HOME", str(tmp_path_factory.mktemp("ekklesia-home")))
        yield dummy_game().run()


def same_run(a: SimulationResult, b: SimulationResult) -> None:
    assert averages(a) == averages(b)
    for name in ("players", "moderator"):
        x, y = a.final_states(name), b.final_states(name)
        assert all(np.array_equal(x[c], y[c]) for c in x)
    # restarts are operational events; the spec (first event) differs in checkpoint_every
    assert a.timeline.fingerprint()[1:] == b.timeline.fingerprint()[1:]


def test_a_host_killed_mid_round_is_rebuilt_from_the_last_round(
    undisturbed: SimulationResult,
) -> None:
    result = dummy_game().run(kill("host-0", after_round=1, delay=0.1))
    restarts = result.timeline.of_kind(HostRestarted)
    assert [(r.round, r.host) for r in restarts] == [(2, "host-0")]
    assert restarts[0].agents[0].startswith("players[0:")
    assert result.restarts == 1
    same_run(result, undisturbed)


def test_without_checkpoints_the_run_starts_over_and_records_each_round_once(
    undisturbed: SimulationResult,
) -> None:
    result = dummy_game(checkpoint_every=0).run(kill("host-1", after_round=2, delay=None))
    assert [(r.round, r.host) for r in result.timeline.of_kind(HostRestarted)] == [(3, "host-1")]
    assert [m.round for m in result.timeline.of_kind(RoundMeasured)] == [0, 1, 2, 3]
    same_run(result, undisturbed)


def test_a_host_lost_after_the_last_round_is_rebuilt_to_hand_over_its_states(
    undisturbed: SimulationResult,
) -> None:
    result = dummy_game().run(kill("host-0", after_round=3, delay=None))
    assert [(r.round, r.host) for r in result.timeline.of_kind(HostRestarted)] == [(4, "host-0")]
    same_run(result, undisturbed)


def test_past_its_restarts_a_run_fails_cleanly_with_its_timeline() -> None:
    with pytest.raises(HostFailure, match="died in round 1"):
        dummy_game(max_restarts=0).run(kill("host-1", after_round=0, delay=None))
    (run_id,) = Timeline.list_runs()
    timeline = Timeline.load(run_id)
    assert [m.round for m in timeline.of_kind(RoundMeasured)] == [0]
    assert "HostFailure" in timeline.of_kind(RunErrored)[0].error
