"""Memory: refuse what will not fit before placing anything; measure the whole process tree."""

import subprocess
import sys
import time

import pytest

from ekklesia.agents.population import Population
from ekklesia.environments.two_thirds import GuessPlayer, Moderator, guess_two_thirds
from ekklesia.errors import SpecError
from ekklesia.runtime.footprint import GIB, MemorySampler, check_fits, estimate

HOLD_300_MIB = "import time; x = b'1' * (300 << 20); print('ok', flush=True); time.sleep(30)"


def players(n: int) -> list[Population]:
    return [Population(GuessPlayer, n=n, name="players"), Population(Moderator)]


def test_the_estimate_grows_with_agents_and_with_full_records() -> None:
    million = estimate(players(1_000_000), 2, rounds=5, record_rate=0.001)
    assert 100 <= million.per_agent["players"] <= 1000
    assert 0.3 * GIB < million.total < 2 * GIB
    ten_million = estimate(players(10_000_000), 2, rounds=5, record_rate=0.001)
    assert ten_million.total > 9 * (
        million.total - estimate(players(1), 2, rounds=5, record_rate=0.001).total
    )
    recorded = estimate(players(1_000_000), 2, rounds=5, record_rate=1.0)
    assert recorded.total > million.total + 5 * 1_000_000 * 1000


def test_a_run_that_cannot_fit_is_refused_at_once_with_a_clear_message() -> None:
    huge = estimate(players(1_000_000_000), 2, rounds=1, record_rate=0.0)
    with pytest.raises(
        SpecError, match=r"1,000,000,001 agents need about \d+\.\d GiB .* is available"
    ):
        check_fits(huge, available=16 * GIB)
    with pytest.raises(SpecError, match="object store"):
        check_fits(estimate(players(10_000_000), 2, rounds=1, record_rate=0.0), 64 * GIB, GIB // 8)
    check_fits(estimate(players(10_000), 2, rounds=1, record_rate=0.0), 16 * GIB, 4 * GIB)
    began = time.perf_counter()
    with pytest.raises(SpecError, match="use fewer agents"):
        guess_two_thirds(200_000_000_000, 1).run()  # refused before Ray or any host starts
    assert time.perf_counter() - began < 5


def test_the_sampler_counts_child_processes() -> None:
    # the samples with and without the child are taken a moment apart (just before and just
    # after it ends), so that the other processes of this test session — Ray's, whose memory
    # comes and goes — cannot move in between by as much as the child holds
    with MemorySampler(interval=0.05) as memory:
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                HOLD_300_MIB,
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().startswith(b"ok")
            with_child = memory.sample()
        finally:
            child.kill()
            child.wait()
        alone = memory.sample()
    assert with_child - alone > 250 << 20
    assert memory.peak_rss >= with_child
