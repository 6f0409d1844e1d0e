"""Simulations on Ray: the guess-2/3 game, user-written kinds, records, determinism across hosts."""

import itertools
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from ray import cloudpickle

import ekklesia.simulation as eks
from ekklesia.agents.population import AgentKind, Population
from ekklesia.core.agent_random import AgentRandom
from ekklesia.core.events import MailSent, RoundMeasured, RunErrored, StatesSaved
from ekklesia.core.mail import Mail
from ekklesia.environments.two_thirds import averages, guess_two_thirds
from ekklesia.errors import RunError
from ekklesia.runtime.timeline import Timeline

pytestmark = pytest.mark.usefixtures("ray_session")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # hosts cannot import test modules


def game(hosts: int, **options: Any) -> eks.SimulationResult:
    return guess_two_thirds(10_000, 4, seed=11, hosts=hosts, **options).run()


@pytest.fixture(scope="module")
def on_two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[eks.SimulationResult]:
    with pytest.MonkeyPatch.context() as patch:  # module fixtures run outside the per-test home
        patch.setenv("EKKLESIA_HOME", str(tmp_path_factory.mktemp("ekklesia-home")))
        yield game(2)


def test_the_game_converges_and_the_moderator_hears_every_player(
    on_two_hosts: eks.SimulationResult,
) -> None:
    result = on_two_hosts
    assert (result.agents, result.rounds, result.hosts) == (10_001, 4, 2)
    means = averages(result)
    assert 45 < means[0] < 55  # first guesses are uniform on [0, 100]
    assert all(b < a for a, b in itertools.pairwise(means))
    guesses = result.final_states("players")["guess"]
    assert guesses.shape == (10_000,) and guesses.min() >= 0 and guesses.max() <= 100
    assert means[-1] == pytest.approx(guesses.mean(), abs=1e-9)
    moderator = result.final_states("moderator")
    assert moderator["heard"].tolist() == [10_000]
    target = moderator["target"][0]
    assert moderator["winner"][0] == np.argmin(np.abs(guesses - target))
    players = result.measured[0].populations["players"]
    assert (players.sent, players.delivered) == (10_000, 10_000)
    moderator_round = result.measured[0].populations["moderator"]
    assert (moderator_round.sent, moderator_round.delivered) == (1, 10_000)  # one broadcast row
    assert result.messages == 4 * 20_000 and result.peak_rss_mib and result.peak_rss_mib > 0


def test_same_seed_same_run_whatever_the_number_of_hosts(
    on_two_hosts: eks.SimulationResult,
) -> None:
    one = game(1)
    assert averages(one) == averages(on_two_hosts)
    for name in ("players", "moderator"):
        a, b = one.final_states(name), on_two_hosts.final_states(name)
        assert all(np.array_equal(a[c], b[c]) for c in a)
    assert one.timeline.fingerprint() == on_two_hosts.timeline.fingerprint()
    saved = one.timeline.of_kind(StatesSaved)[0].populations
    assert saved["players"]["rows"] == 10_000 and len(str(saved["players"]["digest"])) == 32
    other_seed = guess_two_thirds(10_000, 4, seed=12, hosts=2).run()
    assert averages(other_seed)[0] != averages(one)[0]


def test_large_runs_keep_a_seeded_sample_of_messages(on_two_hosts: eks.SimulationResult) -> None:
    sampled = on_two_hosts.timeline.of_kind(MailSent)
    assert 0 < len(sampled) < 4 * 10_000 * 0.01  # about 0.1% of the guesses
    assert all(e.to == "moderator" and "guess" in e.payload for e in sampled)
    assert len({e.sender for e in sampled}) > len(sampled) // 2  # not the same few agents
    assert len(on_two_hosts.timeline.of_kind(RoundMeasured)) == 4


def test_small_runs_record_every_message() -> None:
    result = guess_two_thirds(50, 2, seed=3, hosts=2).run()
    on_one = guess_two_thirds(50, 2, seed=3, hosts=1).run()
    assert result.timeline.fingerprint() == on_one.timeline.fingerprint()
    mail = result.timeline.of_kind(MailSent)
    guesses = [e for e in mail if e.to == "moderator"]
    broadcasts = [e for e in mail if e.broadcast]
    assert len(guesses) == 2 * 50 and {e.sender for e in guesses} == {
        f"players[{i}]" for i in range(50)
    }
    assert [(e.round, e.sender, e.to) for e in broadcasts] == [
        (0, "moderator", "players"),
        (1, "moderator", "players"),
    ]
    assert broadcasts[0].payload["average"] == pytest.approx(averages(result)[0])


class Gossip(AgentKind):
    """Keeps the largest number heard and tells both neighbours on a ring."""

    columns: ClassVar[dict[str, str]] = {"best": "float64", "heard": "int64"}

    def init(self, state: Any, ctx: Any) -> None:
        state["best"][:] = ctx.rng.uniform(0, 1000)

    async def step(self, state: Any, inbox: Any, ctx: Any) -> Any:
        if len(inbox):
            np.maximum.at(state["best"], inbox.recipients, inbox.direct["best"])
        state["heard"] += inbox.count()
        left = ctx.agent("ring", (ctx.index - 1) % ctx.size)
        right = ctx.agent("ring", (ctx.index + 1) % ctx.size)
        return [ctx.mail(to=left, best=state["best"]), ctx.mail(to=right, best=state["best"])]


def test_a_user_kind_talks_across_hosts_like_on_one() -> None:
    def run(hosts: int) -> eks.SimulationResult:
        return eks.Simulation(
            [Population(Gossip, n=5000, name="ring")], rounds=6, seed=4, hosts=hosts
        ).run()

    one, two = run(1), run(2)
    a, b = one.final_states("ring"), two.final_states("ring")
    assert np.array_equal(a["best"], b["best"]) and np.array_equal(a["heard"], b["heard"])
    # each agent heard two messages a round after the first; its best is a 5-neighbourhood max
    assert (a["heard"] == 2 * 5).all()
    first = AgentRandom.for_step(4, "ring", -1, 0, np.arange(5000)).uniform(0, 1000)  # init()
    expected = np.max([np.roll(first, s) for s in range(-5, 6)], axis=0)
    assert np.array_equal(a["best"], expected)


class Broken(AgentKind):
    columns: ClassVar[dict[str, str]] = {"x": "float64"}

    async def step(self, state: Any, inbox: Any, ctx: Any) -> Any:
        if ctx.round == 1:
            raise ValueError("bad column arithmetic")
        return None


def test_a_failing_kind_ends_the_run_with_its_timeline() -> None:
    sim = eks.Simulation([Population(Broken, n=3000, name="broken")], rounds=3, hosts=2)
    with pytest.raises(RunError, match=r"broken\[.*failed in round 1: ValueError: bad column"):
        sim.run()
    (run_id,) = Timeline.list_runs()
    timeline = Timeline.load(run_id)
    assert len(timeline.of_kind(RoundMeasured)) == 1
    assert "bad column" in timeline.of_kind(RunErrored)[0].error
    with pytest.raises(RunError, match="no population named 'nobody'"):
        eks.Simulation([Population(Talker, n=10, name="t")], rounds=1).run()
    with pytest.raises(RunError, match="mail must come from agents of the slice that sends it"):
        eks.Simulation([Population(Forger, n=10)], rounds=1).run()


class Talker(AgentKind):
    async def step(self, state: Any, inbox: Any, ctx: Any) -> Any:
        return ctx.mail(to=ctx.agent("nobody"))


class Forger(AgentKind):
    async def step(self, state: Any, inbox: Any, ctx: Any) -> Any:
        return Mail(np.asarray([ctx.size + 5]), np.asarray([0]))  # as someone it is not
